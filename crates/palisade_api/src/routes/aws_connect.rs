//! `/v1/call-center/aws-connect/*`: an organization's Amazon Connect side.
//!
//! - `instances`: the Connect instances it registers (instance ARN, its region, a label). The
//!   ARN is unique within the organization only: two organizations may register the same ARN,
//!   and each one's events land in its own organization (the credential they arrive with says
//!   which). Every role reads; owners and admins register, relabel and remove (403 here, and the
//!   policies of `policies/255_aws_connect_instances.sql`). An instance's ARN and region are
//!   fixed: PATCH changes the label only.
//! - `credentials`: what its EventBridge connection sends as `X-Palisade-Connect-Key` with each
//!   contact event (docs/aws-connect.md). Shown once, in the 201 that creates it
//!   (`Cache-Control: no-store`), stored as its SHA-256 only. Owners and admins, with a user's
//!   session (a leaked API key cannot mint a credential that writes calls). `DELETE` revokes:
//!   from then on it answers 401. Rotating is creating a second credential, switching the
//!   connection to it, then revoking the first: both work in between, so no event is refused
//!   while the connection is being updated.
//!
//! The events themselves: [`crate::webhooks::aws_connect`].

use palisade_db::aws_connect::{
    self as db, ConnectCredential, ConnectCredentialFilter, ConnectCredentialPatch,
    ConnectInstance, ConnectInstanceFilter, ConnectInstancePatch, NewConnectCredential,
    NewConnectInstance,
};
use palisade_domain::{AwsRegion, ConnectInstanceArn, ConnectLabel};
use serde::{Deserialize, Serialize};

use super::Fields;
use crate::ApiError;
use crate::auth::Tenant;
use crate::credentials::GeneratedApiKey;
use crate::error::ErrorCode;
use crate::resource::{self, Created, OneTimeSecret, Violation};

/// The registered instances family.
pub(crate) struct ConnectInstances;

resource::family! {
    ConnectInstances: ConnectInstance => ConnectInstance, "/v1/call-center/aws-connect/instances",
    "aws-connect", "an Amazon Connect instance", "Amazon Connect instances";
    const ADMIN_WRITES: bool = true;
    const VIOLATIONS: &'static [Violation] = &[Violation::on_write(db::INSTANCE_ARN_KEY, || {
        resource::taken(
            ErrorCode::InstanceTaken,
            "instance_arn",
            "this organization already registered this instance ARN",
        )
    })];
}

/// The event credentials family.
pub(crate) struct ConnectCredentials;

resource::family! {
    ConnectCredentials: ConnectCredential => ConnectCredential,
    "/v1/call-center/aws-connect/credentials", "aws-connect",
    "an Amazon Connect event credential", "Amazon Connect event credentials";
    const ADMIN_WRITES: bool = true;
    const USER_SESSION_WRITES: bool = true;
    const REVOKE: Option<&'static str> = Some(db::REVOKE_CREDENTIAL);
}

/// Declares these families' routes (see [`crate::resource`]).
pub(crate) fn register(e: &mut crate::endpoints::Endpoints) {
    resource::list_route::<ConnectInstances>(e).describe("Newest first");
    resource::create_route::<ConnectInstances>(e).describe(
        "Owners and admins; `region` must be the ARN's; the ARN is unique within the organization (409 `instance_taken`)",
    );
    resource::get_route::<ConnectInstances>(e);
    resource::update_route::<ConnectInstances>(e)
        .describe("Owners and admins; the label only (the ARN and region are fixed)");
    resource::delete_route::<ConnectInstances>(e).describe(
        "Owners and admins; its calls and conversations stay, and its events are ignored from then on",
    );
    resource::list_route::<ConnectCredentials>(e).describe("Newest first; never the credential");
    resource::create_route::<ConnectCredentials>(e)
        .describe("Owners and admins whose own email address is verified (403 `email_not_verified` otherwise), with a user's session; the credential is in this answer only")
        .created::<WithKey>();
    resource::get_route::<ConnectCredentials>(e);
    resource::update_route::<ConnectCredentials>(e)
        .describe("Owners and admins, with a user's session; the label only");
    resource::delete_route::<ConnectCredentials>(e)
        .describe("Revokes the credential (204, idempotent; owners and admins, with a user's session): events sent with it answer 401 from then on");
}

crate::list::filters! {
    /// List query string.
    ConnectInstances: InstanceListQuery => ConnectInstanceFilter {
        /// Only instances in this region.
        region: Text<AwsRegion>,
    }
}

crate::list::filters! {
    /// List query string.
    ConnectCredentials: CredentialListQuery => ConnectCredentialFilter {
        /// `true`: only revoked credentials; `false`: only working ones.
        revoked: Flag,
    }
}

/// Create body of an instance.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ConnectInstanceCreate)]
pub struct InstanceCreateBody {
    /// `arn:aws:connect:<region>:<12-digit account>:instance/<instance id>` (also `aws-us-gov`,
    /// `aws-cn`, ... partitions), at most 256 characters; its region is `region`'s.
    #[schema(required = true, value_type = String)]
    instance_arn: Option<String>,
    /// The ARN's region (e.g. `us-east-1`), at most 32 characters: 422 when it is not the ARN's.
    #[schema(required = true, value_type = String)]
    region: Option<String>,
    /// Display label.
    #[schema(required = true, value_type = String)]
    label: Option<String>,
}

crate::rules::field_rules!(InstanceCreateBody {
    "instance_arn": Text<ConnectInstanceArn>,
    "region": Text<AwsRegion>,
    "label": Text<ConnectLabel>,
});

impl Created for ConnectInstances {
    type Body = InstanceCreateBody;
    type New = NewConnectInstance;

    fn parse(body: &InstanceCreateBody, f: &mut Fields) -> Option<NewConnectInstance> {
        let arn = f.required(
            "instance_arn",
            body.instance_arn.as_deref(),
            ConnectInstanceArn::parse,
        );
        // Every field is read before any is given up on, so a 422 names each bad one.
        let region = f.required("region", body.region.as_deref(), |raw| {
            let region = AwsRegion::parse(raw)?;
            match &arn {
                Some(arn) if arn.region() != region.as_str() => Err(
                    palisade_domain::ParseError::new("must be the region of instance_arn"),
                ),
                _ => Ok(region),
            }
        });
        let label = f.required("label", body.label.as_deref(), ConnectLabel::parse);
        Some(NewConnectInstance {
            instance_arn: arn?,
            region: region?,
            label: label?,
        })
    }
}

resource::patch! {
    /// Patch body: the label only.
    ConnectInstances: InstancePatchBody as ConnectInstancePatch => ConnectInstancePatch {
        label: set Text<ConnectLabel>,
    }
}

/// Create body of a credential.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ConnectCredentialCreate)]
pub struct CredentialCreateBody {
    /// Display label (e.g. the EventBridge connection's name).
    #[schema(required = true, value_type = String)]
    label: Option<String>,
}

crate::rules::field_rules!(CredentialCreateBody {
    "label": Text<ConnectLabel>,
});

/// The credential with its secret: the only shape that carries it.
// Documents the answer `resource::with_secret` writes (the row's fields, then the credential).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ConnectCredentialWithKey)]
struct WithKey {
    #[serde(flatten)]
    credential: ConnectCredential,
    /// The credential itself (`pcc_...`), shown this once: the value of the EventBridge
    /// connection's API key header `X-Palisade-Connect-Key`. Absent from a replay under the
    /// same `Idempotency-Key` (`Idempotency-Replayed: true`): it is not kept.
    #[schema(required = false, extensions(("x-palisade-secret" = json!(true))))]
    key: String,
}

impl Created for ConnectCredentials {
    type Body = CredentialCreateBody;
    type New = NewConnectCredential;
    const VERIFIED_CREATOR: bool = true;

    fn parse(body: &CredentialCreateBody, f: &mut Fields) -> Option<NewConnectCredential> {
        let label = f.required("label", body.label.as_deref(), ConnectLabel::parse);
        Some(NewConnectCredential {
            label: label?,
            prefix: String::new(),
            key_hash: [0; 32],
        })
    }

    /// The credential is generated here and shown once.
    fn prepare(
        new: &mut NewConnectCredential,
        _session: Option<&Tenant>,
    ) -> Result<Option<OneTimeSecret>, ApiError> {
        let generated = GeneratedApiKey::generate_connect_credential()?;
        new.prefix = generated.display_prefix();
        new.key_hash = generated.hash();
        Ok(Some(OneTimeSecret {
            field: "key",
            value: palisade_domain::Secret::new(generated.expose()),
        }))
    }
}

resource::patch! {
    /// Patch body: the label only.
    ConnectCredentials: CredentialPatchBody as ConnectCredentialPatch => ConnectCredentialPatch {
        label: set Text<ConnectLabel>,
    }
}
