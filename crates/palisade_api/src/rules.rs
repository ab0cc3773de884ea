//! What the OpenAPI document says a value must be beyond its JSON type: the rules of the domain
//! type that parses it (lengths, patterns, item counts, ranges), as data, from the type's own
//! constants (`MAX_CHARS`...), so the document and the parser cannot drift apart.
//!
//! - [`Ruled`] gives a domain type's [`Rule`] (and a `crate::kinds` marker's, from its type);
//! - [`FieldRules`] gives a body's or a query's rule per field: `crate::resource::patch!`,
//!   `crate::resource::created!` and `crate::list::filters!` write it from the fields'
//!   kinds, `field_rules!` for the bodies and queries written by hand;
//! - [`crate::endpoints::Doc::body`] and [`crate::endpoints::Doc::query`] require it and apply
//!   the rules to the schemas utoipa generated (which keep their type, nullability and
//!   description: utoipa's field attributes take literals only).
//!
//! A rule is exact: a value it allows is one the parser accepts, and one it refuses is one the
//! parser refuses (Schemathesis checks both ways, `docs/testing.md`). Patterns are written in
//! the subset ECMA-262 (the document's dialect), Python and Rust agree on: classes, escapes
//! `\xNN` and `\uNNNN`, quantifiers, anchors. What JSON Schema cannot say (a time in the
//! future, a reference to an existing row, two fields one of which is required) is in the
//! field's description and answered 422.

use std::borrow::Cow;

use palisade_domain as d;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    AdditionalProperties, AnyOfBuilder, ArrayBuilder, ArrayItems, ObjectBuilder, OneOfBuilder,
    Schema, SchemaType, Type,
};

use crate::kinds::{Choice, Flag, Id, Instant, Items, Number, Object, Real, Text};

/// JSON Schema keywords a value's domain type adds to its JSON type. Empty by default.
#[derive(Clone, Default)]
pub struct Rule {
    min_length: Option<usize>,
    max_length: Option<usize>,
    pattern: Option<Cow<'static, str>>,
    /// Replaces a `$ref` to an enum by a string of these values (an input that takes fewer
    /// spellings than the enum has).
    one_of: Option<Vec<&'static str>>,
    minimum: Option<utoipa::Number>,
    maximum: Option<utoipa::Number>,
    min_items: Option<usize>,
    max_items: Option<usize>,
    /// The rule of an array's items.
    items: Option<Box<Rule>>,
    max_properties: Option<usize>,
    /// The rule of an object's keys (`propertyNames`).
    keys: Option<Box<Rule>>,
    /// The JSON type and rule of every value of an object (`additionalProperties`).
    values: Option<(Type, Box<Rule>)>,
    /// A whole schema that replaces the generated one (given whether it is nullable), for a
    /// JSON value whose shape no [`crate::kinds`] marker states (an IVR tree, a config).
    whole: Option<fn(bool) -> Schema>,
}

/// Whitespace as Rust's `str::trim` drops it (Unicode `White_Space`).
const SPACE: &str = r"\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
/// Control characters (`char::is_control`, Unicode `Cc`).
const CONTROL: &str = r"\x00-\x1f\x7f-\x9f";
/// Control characters but tab and line breaks.
const CONTROL_BUT_LINES: &str = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f";

impl Rule {
    /// No rule beyond the JSON type.
    pub fn none() -> Self {
        Self::default()
    }

    /// A string matching `pattern` (anchored by the caller).
    pub fn pattern(pattern: impl Into<Cow<'static, str>>) -> Self {
        Self {
            pattern: Some(pattern.into()),
            ..Self::default()
        }
    }

    /// What `palisade_domain`'s bounded text accepts: trimmed (Unicode whitespace), 1 to
    /// `max_chars` characters, no control characters (tab and line breaks allowed inside when
    /// `multi_line`). The length counts the trimmed text, so it is in the pattern, not in
    /// `maxLength`.
    pub fn text(max_chars: usize, multi_line: bool) -> Self {
        let inner = if multi_line {
            CONTROL_BUT_LINES
        } else {
            CONTROL
        };
        let visible =
            format!(r"[^{CONTROL}\x20\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]");
        let middle = match max_chars {
            0 | 1 => String::new(),
            n => format!("(?:[^{inner}]{{0,{}}}{visible})?", n - 2),
        };
        Self {
            min_length: Some(1),
            ..Self::pattern(format!("^[{SPACE}]*{visible}{middle}[{SPACE}]*$"))
        }
    }

    /// Text of `min_chars` to `max_chars` characters, any characters.
    pub fn length(min_chars: usize, max_chars: usize) -> Self {
        Self {
            min_length: Some(min_chars),
            max_length: Some(max_chars),
            ..Self::default()
        }
    }

    /// A number from `min` to `max`, inclusive.
    pub fn range(min: f64, max: f64) -> Self {
        Self {
            minimum: Some(utoipa::Number::Float(min)),
            maximum: Some(utoipa::Number::Float(max)),
            ..Self::default()
        }
    }

    /// An integer from `min` to `max`, inclusive, written as integers (an `f64` would round
    /// `i64::MAX` up, out of range).
    pub fn integer(min: i64, max: i64) -> Self {
        let int = |v: i64| utoipa::Number::Int(isize::try_from(v).unwrap_or(isize::MAX));
        Self {
            minimum: Some(int(min)),
            maximum: Some(int(max)),
            ..Self::default()
        }
    }

    /// One of `values` (of an enum whose other spellings this input refuses).
    pub fn one_of(values: Vec<&'static str>) -> Self {
        Self {
            one_of: Some(values),
            ..Self::default()
        }
    }

    /// An array of `min` to `max` items (`None`: unbounded), each following `item`.
    pub fn items(min: usize, max: Option<usize>, item: Rule) -> Self {
        Self {
            min_items: Some(min),
            max_items: max,
            items: Some(Box::new(item)),
            ..Self::default()
        }
    }

    /// An object of at most `max` properties, keys following `keys`, and when `values` is
    /// given, values of its JSON type following its rule.
    pub fn map(max: usize, keys: Rule, values: Option<(Type, Rule)>) -> Self {
        Self {
            max_properties: Some(max),
            keys: Some(Box::new(keys)),
            values: values.map(|(ty, rule)| (ty, Box::new(rule))),
            ..Self::default()
        }
    }

    /// The schema `whole` builds, in place of the generated one (its description kept).
    pub fn whole(whole: fn(bool) -> Schema) -> Self {
        Self {
            whole: Some(whole),
            ..Self::default()
        }
    }

    /// Adds the rule to `schema` (a property's or a parameter's), keeping what it says.
    pub fn apply(&self, schema: &mut RefOr<Schema>) {
        if let (Some(whole), RefOr::T(Schema::Object(o))) = (self.whole, &*schema) {
            let nullable =
                matches!(&o.schema_type, SchemaType::Array(t) if t.contains(&Type::Null));
            let description = o.description.clone();
            let mut new = whole(nullable);
            if let Schema::Object(n) = &mut new {
                n.description = description;
            }
            *schema = RefOr::T(new);
            return;
        }
        if let (Some(values), RefOr::Ref(r)) = (&self.one_of, &*schema) {
            let mut b = ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(values.iter().copied()));
            if !r.description.is_empty() {
                b = b.description(Some(r.description.clone()));
            }
            *schema = RefOr::T(b.into());
            return;
        }
        // An optional enum: `oneOf: [$ref, {type: null}]`.
        if let (Some(values), RefOr::T(Schema::OneOf(o))) = (&self.one_of, &*schema) {
            let description = o.items.iter().find_map(|i| match i {
                RefOr::Ref(r) if !r.description.is_empty() => Some(r.description.clone()),
                _ => None,
            });
            let values = values
                .iter()
                .map(|v| serde_json::Value::from(*v))
                .chain([serde_json::Value::Null]);
            let b = ObjectBuilder::new()
                .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                .enum_values(Some(values))
                .description(description);
            *schema = RefOr::T(b.into());
            return;
        }
        let RefOr::T(schema) = schema else {
            return;
        };
        self.apply_to(schema);
    }

    fn apply_to(&self, schema: &mut Schema) {
        match schema {
            Schema::Object(o) => {
                o.min_length = self.min_length.or(o.min_length);
                o.max_length = self.max_length.or(o.max_length);
                if let Some(p) = &self.pattern {
                    o.pattern = Some(p.clone().into_owned());
                }
                if let Some(values) = &self.one_of {
                    o.enum_values = Some(values.iter().map(|v| (*v).into()).collect());
                }
                o.minimum = self.minimum.clone().or(o.minimum.take());
                o.maximum = self.maximum.clone().or(o.maximum.take());
                o.max_properties = self.max_properties.or(o.max_properties);
                if let Some(keys) = &self.keys {
                    let mut names: Schema = ObjectBuilder::new().schema_type(Type::String).into();
                    keys.apply_to(&mut names);
                    o.property_names = Some(Box::new(names));
                }
                if let Some((ty, rule)) = &self.values {
                    let mut value: Schema = ObjectBuilder::new().schema_type(ty.clone()).into();
                    rule.apply_to(&mut value);
                    o.additional_properties =
                        Some(Box::new(AdditionalProperties::RefOr(RefOr::T(value))));
                }
            }
            Schema::Array(a) => {
                a.min_items = self.min_items.or(a.min_items);
                a.max_items = self.max_items.or(a.max_items);
                if let (Some(item), ArrayItems::RefOrSchema(s)) = (&self.items, &mut a.items) {
                    item.apply(s);
                }
            }
            _ => {}
        }
    }
}

/// A domain type's (or a `crate::kinds` marker's) [`Rule`].
pub trait Ruled {
    /// The rule of the values the type accepts.
    fn rule() -> Rule;
}

/// A request body's or a query's rules, by field (its name on the wire).
pub trait FieldRules {
    /// `(field, rule)`, for the fields that have one.
    fn field_rules() -> Vec<(&'static str, Rule)>;

    /// The rules of the bodies this one holds (by schema name), e.g. a batch's items'.
    fn nested_rules(_out: &mut Vec<(String, Vec<(&'static str, Rule)>)>) {}
}

/// Declares [`FieldRules`] of a body or query written by hand: `field_rules!(Body {
/// "name": Text<PersonName>, "role": Choice<Role> })`, each field with the [`crate::kinds`]
/// marker of what parses it.
macro_rules! field_rules {
    ($ty:ty { $($field:literal: $kind:ty),* $(,)? }) => {
        impl $crate::rules::FieldRules for $ty {
            fn field_rules() -> Vec<(&'static str, $crate::rules::Rule)> {
                #[allow(unused_imports)]
                use $crate::kinds::{Choice, Id, Items, Number, Object, Text};
                vec![$(($field, <$kind as $crate::rules::Ruled>::rule())),*]
            }
        }
    };
}
pub(crate) use field_rules;

impl<T: Ruled> Ruled for Text<T> {
    fn rule() -> Rule {
        T::rule()
    }
}

/// Enums are `$ref`s to their values; ids are `format: uuid`; instants `format: date-time`.
macro_rules! documented_by_type {
    ($($kind:ty),*) => {
        $(impl<T> Ruled for $kind {
            fn rule() -> Rule {
                Rule::none()
            }
        })*
    };
}
documented_by_type!(Choice<T>, Id<T>);

impl Ruled for Instant {
    fn rule() -> Rule {
        Rule::none()
    }
}

impl Ruled for Flag {
    fn rule() -> Rule {
        Rule::none()
    }
}

impl<T: Ruled, E> Ruled for Items<T, E> {
    fn rule() -> Rule {
        T::rule()
    }
}

impl<T: Ruled> Ruled for Object<T> {
    fn rule() -> Rule {
        T::rule()
    }
}

impl<T: Ruled> Ruled for Number<T> {
    fn rule() -> Rule {
        T::rule()
    }
}

impl<T: Ruled> Ruled for Real<T> {
    fn rule() -> Rule {
        T::rule()
    }
}

/// The bounded text types (`palisade_domain`'s `text_type!`): [`Rule::text`] of their
/// `MAX_CHARS` and `MULTI_LINE`.
macro_rules! bounded_text {
    ($($t:ty),* $(,)?) => {
        $(impl Ruled for $t {
            fn rule() -> Rule {
                Rule::text(<$t>::MAX_CHARS, <$t>::MULTI_LINE)
            }
        })*
    };
}
bounded_text!(
    d::ConversationSubject,
    d::MessageBody,
    d::IvrMenuName,
    d::PhoneLabel,
    d::ArticleTitle,
    d::ArticleBody,
    d::ReportName,
    d::PostBody,
    d::SearchText,
    d::CampaignName,
    d::EmailSubject,
    d::EmailBody,
    d::SmsBody,
    d::VoiceScript,
    d::CallNotes,
    d::BotText,
    d::OrganizationName,
    d::PersonName,
    d::CustomerName,
    d::IntegrationName,
    d::ApiKeyName,
    d::WebhookDescription,
    d::ConnectLabel,
);

/// Types whose document is their format or enum (`format: email`, `format: uri`, a `$ref`),
/// or a JSON object whose shape the field's description gives (see `docs/testing.md` for the
/// ones the fuzzer cannot generate from it).
macro_rules! described_elsewhere {
    ($($t:ty),* $(,)?) => {
        $(impl Ruled for $t {
            fn rule() -> Rule {
                Rule::none()
            }
        })*
    };
}
described_elsewhere!(d::EmailAddress, d::EmailLookup, d::WebhookUrl);

/// A string schema of `rule`.
fn string(rule: &Rule) -> Schema {
    let mut s: Schema = ObjectBuilder::new().schema_type(Type::String).into();
    rule.apply_to(&mut s);
    s
}

/// An object of exactly these `(name, schema, required)` properties.
fn closed_object(properties: Vec<(&str, Schema, bool)>) -> ObjectBuilder {
    let mut b = ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false)));
    for (name, schema, required) in properties {
        b = b.property(name, schema);
        if required {
            b = b.required(name);
        }
    }
    b
}

impl Ruled for d::IvrMenuTree {
    /// The menu node of `palisade_domain::ivr`, its submenus unrolled to `MAX_DEPTH` levels
    /// (the deepest offers no submenu). What no schema can count (at most `MAX_NODES` menus in
    /// the whole tree, `MAX_BYTES` serialized) is in the description.
    fn rule() -> Rule {
        Rule::whole(|nullable| {
            let mut node = ivr_node(1);
            if nullable && let Schema::Object(o) = &mut node {
                o.schema_type = SchemaType::from_iter([Type::Object, Type::Null]);
            }
            node
        })
    }
}

/// An IVR menu node at `level` (the root is 1).
fn ivr_node(level: usize) -> Schema {
    let text = || string(&Rule::text(d::IvrMenuTree::TEXT_MAX_CHARS, false));
    let action = |name: &'static str| -> Schema {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some([name]))
            .into()
    };
    let mut options = OneOfBuilder::new()
        .item(
            closed_object(vec![
                ("action", action("say"), true),
                ("text", text(), true),
            ])
            .build(),
        )
        .item(
            closed_object(vec![
                ("action", action("transfer"), true),
                ("to", string(&d::PhoneNumber::rule()), true),
            ])
            .build(),
        );
    if level < d::IvrMenuTree::MAX_DEPTH {
        options = options.item(
            closed_object(vec![
                ("action", action("submenu"), true),
                ("menu", ivr_node(level + 1), true),
            ])
            .build(),
        );
    }
    options = options
        .item(
            closed_object(vec![
                ("action", action("voicemail"), true),
                ("greeting", text(), false),
            ])
            .build(),
        )
        .item(closed_object(vec![("action", action("hangup"), true)]).build());
    // `*` and `#` are literal in a class.
    let keys = format!("^[{}]$", d::IvrMenuTree::KEYPAD);
    let options: Schema = ObjectBuilder::new()
        .schema_type(Type::Object)
        .min_properties(Some(1))
        .max_properties(Some(d::IvrMenuTree::KEYPAD.len()))
        .property_names(Some(string(&Rule::pattern(keys))))
        .additional_properties(Some(AdditionalProperties::RefOr(RefOr::T(
            options.build().into(),
        ))))
        .into();
    closed_object(vec![("prompt", text(), true), ("options", options, true)]).into()
}

/// `json::object_type!`: at most `MAX_KEYS` top-level keys, identifiers; below them any JSON
/// without NUL in keys and strings, numbers within 1e300, nested `MAX_DEPTH` levels at most
/// (the object is level 1), unrolled. The size (`MAX_BYTES` serialized) is in the description.
macro_rules! json_object {
    ($($t:ty),* $(,)?) => {
        $(impl Ruled for $t {
            fn rule() -> Rule {
                Rule::whole(|nullable| {
                    let b = ObjectBuilder::new()
                        .max_properties(Some(<$t>::MAX_KEYS))
                        .property_names(Some(string(&Rule::pattern(
                            "^[A-Za-z_][A-Za-z0-9_]{0,63}$",
                        ))))
                        .additional_properties(Some(AdditionalProperties::RefOr(RefOr::T(
                            json_value(1, <$t>::MAX_DEPTH),
                        ))));
                    if nullable {
                        b.schema_type(SchemaType::from_iter([Type::Object, Type::Null])).into()
                    } else {
                        b.schema_type(Type::Object).into()
                    }
                })
            }
        })*
    };
}

/// The scalars a JSON value of the domain's objects may be (an integration's config, report
/// parameters, event properties): null, a boolean, or a number within `MAX_NUMBER`; strings
/// and containers are the caller's.
fn json_scalars() -> AnyOfBuilder {
    let max = d::IntegrationConfig::MAX_NUMBER;
    AnyOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(SchemaType::from_iter([Type::Null, Type::Boolean]))
                .build(),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Number)
                .minimum(Some(-max))
                .maximum(Some(max))
                .build(),
        )
}

/// A value inside a `json::object_type!` object whose container is at `level`: containers
/// only while `level < max_depth`.
fn json_value(level: usize, max_depth: usize) -> Schema {
    let no_nul = || string(&Rule::pattern("^[^\\x00]*$"));
    let mut any = json_scalars().item(no_nul());
    if level < max_depth {
        any = any
            .item(
                ArrayBuilder::new()
                    .items(ArrayItems::RefOrSchema(Box::new(RefOr::T(json_value(
                        level + 1,
                        max_depth,
                    )))))
                    .build(),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .property_names(Some(no_nul()))
                    .additional_properties(Some(AdditionalProperties::RefOr(RefOr::T(json_value(
                        level + 1,
                        max_depth,
                    )))))
                    .build(),
            );
    }
    any.into()
}
json_object!(d::ReportParameters, d::EventProperties);

impl Ruled for d::IntegrationConfig {
    /// An object of at most `MAX_KEYS` keys, every key at any depth an identifier that names
    /// no credential, strings without control characters, numbers within `MAX_NUMBER`,
    /// containers unrolled to `MAX_DEPTH` (the deepest empty). The size (`8 KiB` serialized)
    /// is in the description.
    fn rule() -> Rule {
        Rule::whole(|nullable| {
            let mut b = ObjectBuilder::new()
                .max_properties(Some(d::IntegrationConfig::MAX_KEYS))
                .property_names(Some(config_key()))
                .additional_properties(Some(AdditionalProperties::RefOr(RefOr::T(config_value(
                    1,
                )))));
            b = if nullable {
                b.schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
            } else {
                b.schema_type(Type::Object)
            };
            b.into()
        })
    }
}

fn config_key() -> Schema {
    string(&Rule::pattern(d::IntegrationConfig::key_pattern()))
}

/// A value of an integration's config at `depth` (the top-level keys' values are at 1).
fn config_value(depth: usize) -> Schema {
    let last = depth >= d::IntegrationConfig::MAX_DEPTH;
    let mut array = ArrayBuilder::new().items(if last {
        ArrayItems::False
    } else {
        ArrayItems::RefOrSchema(Box::new(RefOr::T(config_value(depth + 1))))
    });
    let mut object = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property_names(Some(config_key()));
    if last {
        array = array.max_items(Some(0));
        object = object.max_properties(Some(0));
    } else {
        object = object.additional_properties(Some(AdditionalProperties::RefOr(RefOr::T(
            config_value(depth + 1),
        ))));
    }
    json_scalars()
        .item(string(&Rule::pattern(format!("^[^{CONTROL}]*$"))))
        .item(array.build())
        .item(object.build())
        .into()
}

impl Ruled for d::PhoneNumber {
    /// E.164 (`+`, 7 to 15 digits, the first not 0), with the separators people type (space,
    /// `-`, `.`, parentheses) anywhere and whitespace around.
    ///
    /// Whitespace around then separators is written so that no two adjacent repetitions can
    /// take the same space (`[ws]*(?:[.()-][ .()-]*)?`, not `[ws]*[ .()-]*`, the same strings):
    /// with the overlap, a backtracking engine (Python's `re`, JavaScript's) took 20 s to refuse
    /// a number followed by 50,000 spaces and a letter; now it takes milliseconds.
    fn rule() -> Rule {
        let sep = "[ .()-]*";
        Rule::pattern(format!(
            r"^[{SPACE}]*(?:[.()-]{sep})?\+{sep}[1-9](?:{sep}[0-9]){{6,14}}(?:{sep}[.()-])?[{SPACE}]*$"
        ))
    }
}

impl Ruled for d::SocialHandle {
    /// 1 to 100 ASCII letters, digits, `_`, `.` or `-`, an optional `@` first, whitespace
    /// around.
    fn rule() -> Rule {
        Rule::pattern(format!("^[{SPACE}]*@?[A-Za-z0-9_.-]{{1,100}}[{SPACE}]*$"))
    }
}

impl Ruled for d::EventType {
    fn rule() -> Rule {
        Rule::pattern("^[a-z][a-z0-9_.]{0,63}$")
    }
}

impl Ruled for d::Tag {
    fn rule() -> Rule {
        Rule::text(d::Tag::MAX_CHARS, false)
    }
}

impl Ruled for d::Tags {
    fn rule() -> Rule {
        Rule::items(0, Some(d::Tags::MAX_TAGS), d::Tag::rule())
    }
}

impl Ruled for d::Capabilities {
    fn rule() -> Rule {
        Rule::items(1, None, Rule::none())
    }
}

impl Ruled for d::WebhookEvents {
    fn rule() -> Rule {
        Rule::items(1, None, Rule::none())
    }
}

impl Ruled for d::AwsRegion {
    fn rule() -> Rule {
        Rule {
            max_length: Some(d::AwsRegion::MAX_CHARS),
            ..Rule::pattern(REGION)
        }
    }
}

/// `aws_connect::is_region`: two letters, one or more words, a digit, joined by hyphens.
const REGION: &str = "^[a-z]{2}(?:-[a-z]+)+-[0-9]$";

impl Ruled for d::ConnectInstanceArn {
    fn rule() -> Rule {
        let region = &REGION[1..REGION.len() - 1];
        Rule {
            max_length: Some(d::ConnectInstanceArn::MAX_CHARS),
            ..Rule::pattern(format!(
                "^arn:aws(?:-[a-z]+)*:connect:{region}:[0-9]{{12}}:instance/\
                 [0-9a-f]{{8}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{12}}$"
            ))
        }
    }
}

impl Ruled for d::AccessToken {
    fn rule() -> Rule {
        Rule {
            min_length: Some(1),
            max_length: Some(d::AccessToken::MAX_CHARS),
            ..Rule::pattern("^[!-~]+$")
        }
    }
}

impl Ruled for d::IntegrationSecrets {
    fn rule() -> Rule {
        Rule::map(
            d::IntegrationSecrets::MAX_KEYS,
            Rule::pattern(d::IntegrationSecrets::KEY_PATTERN),
            Some((
                Type::String,
                Rule {
                    min_length: Some(1),
                    max_length: Some(d::IntegrationSecrets::MAX_VALUE_CHARS),
                    ..Rule::pattern(format!("^[^{CONTROL}]*$"))
                },
            )),
        )
    }
}

impl Ruled for d::CallDuration {
    fn rule() -> Rule {
        Rule::integer(0, d::CallDuration::MAX_SECONDS.into())
    }
}

/// A counter a client sets (a post's likes, shares...): any `i64` from 0.
pub struct Count;

impl Ruled for Count {
    fn rule() -> Rule {
        Rule::integer(0, i64::MAX)
    }
}

impl Ruled for d::ConfidenceThreshold {
    fn rule() -> Rule {
        Rule::range(0.0, 1.0)
    }
}

/// A new password (signup, change, reset, invitation): `Password::parse_new`.
pub struct NewPassword;

impl Ruled for NewPassword {
    fn rule() -> Rule {
        Rule::length(d::Password::MIN_CHARS, d::Password::MAX_CHARS)
    }
}

/// A login attempt's password: `Password::parse_attempt`.
pub struct PasswordAttempt;

impl Ruled for PasswordAttempt {
    fn rule() -> Rule {
        Rule::length(1, d::Password::MAX_CHARS)
    }
}

impl Ruled for d::ProviderId {
    /// Trimmed, then 1 to `MAX_LEN` visible ASCII characters.
    fn rule() -> Rule {
        Rule::pattern(format!(
            "^[{SPACE}]*[!-~]{{1,{}}}[{SPACE}]*$",
            d::ProviderId::MAX_LEN
        ))
    }
}

/// The senders a client may write a chat message as (the server writes the bot's).
pub struct ClientSender;

impl Ruled for ClientSender {
    fn rule() -> Rule {
        use d::MessageSender as S;
        Rule::one_of(vec![S::Agent.as_str(), S::Customer.as_str()])
    }
}

/// The statuses a campaign is created in.
pub struct NewCampaignStatus;

impl Ruled for NewCampaignStatus {
    fn rule() -> Rule {
        use d::CampaignStatus as S;
        Rule::one_of(vec![S::Draft.as_str(), S::Scheduled.as_str()])
    }
}

/// The roles an API key may have (`Role::parse_for_api_key`: no key is an owner).
pub struct ApiKeyRole;

impl Ruled for ApiKeyRole {
    fn rule() -> Rule {
        use d::Role as S;
        Rule::one_of(vec![S::Admin.as_str(), S::Member.as_str()])
    }
}
