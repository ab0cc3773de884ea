//! Requests as a credential: the typed callers tests use instead of rebuilding tokens and
//! headers. An [`Account`] (owner, admin or member: its [`Account::role`]) sends its session
//! token as `Authorization: Bearer`; an [`ApiKey`] sends its key in the header it was minted
//! for; a raw token is a `&str`; [`Anonymous`] sends none.
//!
//! Every helper goes through [`TestApp::request_as`], so every 201 is checked against the API's
//! `Location` contract whoever the caller is.

use palisade_domain::Role;
use serde_json::Value;

use crate::{Account, TestApp, TestResponse};

/// What a request authenticates with: the headers it adds.
pub trait Credential {
    /// The authentication headers (none for an anonymous request).
    fn auth_headers(&self) -> Vec<(&'static str, String)>;
}

impl<T: Credential + ?Sized> Credential for &T {
    fn auth_headers(&self) -> Vec<(&'static str, String)> {
        (**self).auth_headers()
    }
}

/// A bearer token, as given (a session token, an odd token minted by a test, a key).
impl Credential for str {
    fn auth_headers(&self) -> Vec<(&'static str, String)> {
        vec![("Authorization", format!("Bearer {self}"))]
    }
}

impl Credential for String {
    fn auth_headers(&self) -> Vec<(&'static str, String)> {
        self.as_str().auth_headers()
    }
}

/// A person's session: their bearer token.
impl Credential for Account {
    fn auth_headers(&self) -> Vec<(&'static str, String)> {
        self.token.auth_headers()
    }
}

/// No credential at all.
#[derive(Debug, Clone, Copy)]
pub struct Anonymous;

impl Credential for Anonymous {
    fn auth_headers(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }
}

/// Which header an API key travels in: the API accepts both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyHeader {
    /// `Authorization: Bearer <key>`.
    Bearer,
    /// `X-API-Key: <key>`.
    XApiKey,
}

impl KeyHeader {
    /// Both headers, for tests that check a rule holds in either.
    pub const BOTH: [KeyHeader; 2] = [KeyHeader::Bearer, KeyHeader::XApiKey];
}

/// An API key minted over HTTP ([`TestApp::api_key`]).
#[derive(Debug, Clone)]
pub struct ApiKey {
    /// The secret, as shown once at creation.
    pub key: String,
    /// The key resource's id.
    pub id: String,
    /// The role it was minted with.
    pub role: Role,
    /// The organization it belongs to.
    pub org_id: String,
    /// The header it is sent in.
    pub header: KeyHeader,
    /// The whole creation answer.
    pub created: Value,
}

impl ApiKey {
    /// The same key, sent in `header`.
    pub fn in_header(&self, header: KeyHeader) -> ApiKey {
        ApiKey {
            header,
            ..self.clone()
        }
    }
}

impl Credential for ApiKey {
    fn auth_headers(&self) -> Vec<(&'static str, String)> {
        RawKey(&self.key, self.header).auth_headers()
    }
}

/// Any string sent in the header an API key would travel in: a revoked, unknown or malformed
/// key, or a token where a key belongs.
#[derive(Debug, Clone, Copy)]
pub struct RawKey<'k>(pub &'k str, pub KeyHeader);

impl Credential for RawKey<'_> {
    fn auth_headers(&self) -> Vec<(&'static str, String)> {
        match self.1 {
            KeyHeader::Bearer => self.0.auth_headers(),
            KeyHeader::XApiKey => vec![("X-API-Key", self.0.to_owned())],
        }
    }
}

/// `TestApp::get(who, path)` and the other methods, one per HTTP method: without a body, then
/// with a JSON body.
macro_rules! verbs {
    ($($bare:ident $bare_method:literal),*; $($with:ident $with_method:literal),*) => {
        $(
            #[doc = concat!("`", $bare_method, " path` as `who`.")]
            pub async fn $bare(&self, who: &(impl Credential + ?Sized), path: &str) -> TestResponse {
                self.request_as(who, $bare_method, path, None, &[]).await
            }
        )*
        $(
            #[doc = concat!("`", $with_method, " path` with a JSON body as `who`.")]
            pub async fn $with(
                &self,
                who: &(impl Credential + ?Sized),
                path: &str,
                body: &Value,
            ) -> TestResponse {
                self.request_as(who, $with_method, path, Some(body), &[]).await
            }
        )*
    };
}

impl TestApp {
    /// Sends `method path` as `who` (JSON `body` when given, and `extra` headers). The one way
    /// every typed helper below reaches the server.
    pub async fn request_as(
        &self,
        who: &(impl Credential + ?Sized),
        method: &str,
        path: &str,
        body: Option<&Value>,
        extra: &[(&str, &str)],
    ) -> TestResponse {
        self.call_authenticated(method, path, &who.auth_headers(), body, extra)
            .await
    }

    verbs! {
        get "GET", delete "DELETE";
        post "POST", patch "PATCH", put "PUT"
    }

    /// `GET path` as `who`, which must answer 200: its JSON.
    pub async fn get_ok(&self, who: &(impl Credential + ?Sized), path: &str) -> Value {
        let r = self.get(who, path).await;
        assert_eq!(r.status, 200, "GET {path}: {}", r.text);
        r.json
    }

    /// `POST path` as `who`, which must answer 201: the created resource.
    pub async fn create(&self, who: &(impl Credential + ?Sized), path: &str, body: Value) -> Value {
        let r = self.post(who, path, &body).await;
        assert_eq!(r.status, 201, "POST {path} {body}: {}", r.text);
        r.json
    }

    /// The ids of the items of the list at `path`, as `who` reads it (one page).
    pub async fn list_ids(&self, who: &(impl Credential + ?Sized), path: &str) -> Vec<String> {
        ids(&self.get_ok(who, path).await)
    }

    /// Every item of the list at `path` as `who` reads it, following `next_cursor` with pages of
    /// `limit` (the path must not have a query string of its own but the filters given in
    /// `query`, e.g. `"status=open"` or `""`).
    pub async fn walk(
        &self,
        who: &(impl Credential + ?Sized),
        path: &str,
        query: &str,
        limit: usize,
    ) -> Vec<Value> {
        let sep = if query.is_empty() { "" } else { "&" };
        let mut items = Vec::new();
        let mut next = format!("{path}?{query}{sep}limit={limit}");
        loop {
            let page = self.get_ok(who, &next).await;
            items.extend(page["data"].as_array().cloned().unwrap_or_default());
            match page["next_cursor"].as_str() {
                Some(c) => next = format!("{path}?{query}{sep}limit={limit}&cursor={c}"),
                None => return items,
            }
        }
    }

    /// The ids of every item of the list at `path` (no query string of its own), walked in
    /// pages of `limit` ([`TestApp::walk`]).
    pub async fn walk_ids(
        &self,
        who: &(impl Credential + ?Sized),
        path: &str,
        limit: usize,
    ) -> Vec<String> {
        let items = self.walk(who, path, "", limit).await;
        items.iter().map(|i| id(i).to_owned()).collect()
    }

    /// One page of the list at `path` as `who` reads it (200): its ids and its `next_cursor`.
    pub async fn page(
        &self,
        who: &(impl Credential + ?Sized),
        path: &str,
    ) -> (Vec<String>, Option<String>) {
        let page = self.get_ok(who, path).await;
        (ids(&page), page["next_cursor"].as_str().map(str::to_owned))
    }

    /// Each of `writes` (method, path, JSON body) sent as `who` answers 403 `forbidden` (the
    /// failure names the request).
    pub async fn assert_forbidden(
        &self,
        who: &(impl Credential + ?Sized),
        writes: &[(&str, &str, Option<Value>)],
    ) {
        for (method, path, body) in writes {
            let r = self.request_as(who, method, path, body.as_ref(), &[]).await;
            r.assert_error_at(403, "forbidden", format_args!("{method} {path}"));
        }
    }

    /// `PATCH /v1/members/{id}` `{"role": role}` of `who`, as `by`: must answer 200.
    pub async fn set_role(&self, by: &Account, who: &Account, role: Role) {
        let path = format!("/v1/members/{}", who.user_id);
        let r = self
            .patch(by, &path, &serde_json::json!({"role": role.as_str()}))
            .await;
        assert_eq!(r.status, 200, "{path} to {}: {}", role.as_str(), r.text);
    }

    /// `DELETE /v1/members/{id}` of `who`, as `by`: must answer 204.
    pub async fn remove_member(&self, by: &Account, who: &Account) {
        let path = format!("/v1/members/{}", who.user_id);
        let r = self.delete(by, &path).await;
        assert_eq!(r.status, 204, "{path}: {}", r.text);
    }

    /// A person of `role` added to `owner`'s organization (by invitation, as a client would).
    pub async fn member_of(&self, owner: &Account, role: Role) -> Account {
        self.add_user(owner, role).await
    }

    /// An API key of `role` minted by `by` (owner or admin), named `name`, sent as `Bearer`.
    pub async fn api_key(&self, by: &Account, name: &str, role: Role) -> ApiKey {
        let created = self
            .create(
                by,
                "/v1/api-keys",
                serde_json::json!({"name": name, "role": role.as_str()}),
            )
            .await;
        ApiKey {
            key: created["key"].as_str().expect("the key").to_owned(),
            id: created["id"].as_str().expect("the key's id").to_owned(),
            role,
            org_id: by.org_id.clone(),
            header: KeyHeader::Bearer,
            created,
        }
    }
}

/// The `id`s of a list answer's `data`, in order (panics on anything but a list).
pub fn ids(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|i| id(i).to_owned())
        .collect()
}

/// The `id` of a resource.
pub fn id(resource: &Value) -> &str {
    resource["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {resource}"))
}

/// The `field`s an error answer's `fields` name, in order (panics when it has none).
pub fn fields(answer: &Value) -> Vec<String> {
    answer["fields"]
        .as_array()
        .unwrap_or_else(|| panic!("no fields in {answer}"))
        .iter()
        .map(|f| f["field"].as_str().expect("a field").to_owned())
        .collect()
}

/// `s` percent-encoded for a URL or a form body: every byte but the unreserved ones.
pub fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
