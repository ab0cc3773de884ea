//! Inbound webhooks from carriers, email providers and Stripe.
//!
//! [`signature`] verifies each provider's signature over the raw request bytes, in constant
//! time, before anything is parsed. Routing and writes come later (under RLS for carriers and
//! email providers; through the billing pool for Stripe only).
//!
//! [`stripe`]: `POST /webhooks/stripe`, the only user of the billing pool.

pub mod signature;
pub mod stripe;
