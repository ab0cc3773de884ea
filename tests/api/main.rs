//! Palisade's integration and isolation tests: one binary, real PostgreSQL, the app role.
//! See `palisade_test_support` for the harness (a throwaway cluster per process, a database
//! per test copied from a migrated template, the real server on port 0).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod accounts;
mod analytics;
mod api_keys;
mod auth;
mod aws_connect;
mod backup;
mod billing;
mod catalog;
mod chat;
mod chatbot;
mod column_secrecy;
mod conventions;
mod cors;
mod customers;
mod db_tls;
mod docs_filters;
mod docs_names;
mod docs_page;
mod email_verification;
mod email_webhooks;
mod engagement;
mod fuzz_inputs;
mod harness;
mod idempotency;
mod integrations;
mod isolation;
mod ivr_menus;
mod knowledge_base;
mod logs;
mod members;
mod messaging;
mod metrics;
mod openapi;
mod organization;
mod outbound_delivery;
mod outbound_webhooks;
mod phone_numbers;
mod preconditions;
mod reports;
mod retention;
mod rls_sql;
mod sessions;
mod social;
mod spellings;
mod startup;
mod stripe_webhooks;
mod sync;
mod sync_families;
mod tenant_domain;
mod tenant_tx;
mod throttling;
mod timestamps;
mod twilio_sms;
mod twilio_status;
mod user_session;
