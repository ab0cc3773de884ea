//! What a client's value must be: the markers that list filters ([`crate::list::filters!`]) and
//! PATCH bodies ([`crate::resource::patch!`]) declare their fields with. Each parses the raw
//! value with the domain type's [`Parse`], records a refusal in [`Fields`] under the field's
//! name (a 422 with the field's code, never a deserializer's 400), and says how the field is
//! documented in the OpenAPI document (the declaring macros write that part).
//!
//! | marker | query text | JSON body value | parsed with |
//! |---|---|---|---|
//! | `Choice<T>` | one of `T`'s spellings | a string | `T: Parse` (an enum) |
//! | `Id<T>` | a UUID | a string | `T: Parse` (an id) |
//! | `Text<T>` | text | a string | `T: Parse` |
//! | `Instant` | RFC 3339 | a string | RFC 3339, years 0000 to 9999 |
//! | `Flag` | `true`/`false` | a boolean | |
//! | `Object<T>` | | an object | `T: Parse<Value>` |
//! | `Items<T, E>` | | an array of strings (each an `E`) | `T: Parse<[String]>` |
//! | `Number<T>` | | an integer | `T: Parse<i64>` |
//! | `Real<T>` | | a number | `T: Parse<f64>` |

use std::marker::PhantomData;

use palisade_domain::Parse;
use serde::de::DeserializeOwned;
use serde_json::Value;
use time::OffsetDateTime;

use crate::routes::Fields;

/// One of the enum `T`'s spellings (documented as its list of values).
pub(crate) struct Choice<T>(PhantomData<T>);
/// A UUID: the id `T` of a row (documented as `format: uuid`).
pub(crate) struct Id<T>(PhantomData<T>);
/// Text the domain type `T` accepts (documented as a string).
pub(crate) struct Text<T>(PhantomData<T>);
/// An RFC 3339 date-time.
pub(crate) struct Instant;
/// `true` or `false`.
pub(crate) struct Flag;
/// A JSON object the domain type `T` accepts.
pub(crate) struct Object<T>(PhantomData<T>);
/// A list of names, each documented as an `E`, that the domain type `T` accepts as a whole.
pub(crate) struct Items<T, E>(PhantomData<(T, E)>);
/// An integer the domain type `T` accepts.
pub(crate) struct Number<T>(PhantomData<T>);
/// A number (integer or not) the domain type `T` accepts.
pub(crate) struct Real<T>(PhantomData<T>);

/// A kind a query parameter may have: its text, parsed.
pub(crate) trait ParamKind {
    /// The parsed value, as the db filter holds it.
    type Value;
    /// Parses `raw`, if given, recording a refusal in `f` under `name`.
    fn read(f: &mut Fields, name: &'static str, raw: Option<&str>) -> Option<Self::Value>;
}

/// A kind a JSON body field may have: its value, as deserialized, then parsed.
pub(crate) trait FieldKind {
    /// The JSON value as deserialized (a wrong JSON type is 422 `invalid_type`).
    type Raw: DeserializeOwned;
    /// The parsed value, as the db type holds it.
    type Value;
    /// Parses `raw`, recording a refusal in `f` under `name`.
    fn read(f: &mut Fields, name: &'static str, raw: &Self::Raw) -> Option<Self::Value>;
}

/// Choice, Id and Text parse text alike, with the domain type's [`Parse`].
macro_rules! text_kinds {
    ($($kind:ident),+) => {
        $(
            impl<T: Parse> ParamKind for $kind<T> {
                type Value = T;
                fn read(f: &mut Fields, name: &'static str, raw: Option<&str>) -> Option<T> {
                    f.optional(name, raw, T::parse)
                }
            }

            impl<T: Parse> FieldKind for $kind<T> {
                type Raw = String;
                type Value = T;
                fn read(f: &mut Fields, name: &'static str, raw: &String) -> Option<T> {
                    f.optional(name, Some(raw), T::parse)
                }
            }
        )+
    };
}
text_kinds!(Choice, Id, Text);

impl ParamKind for Instant {
    type Value = OffsetDateTime;
    fn read(f: &mut Fields, name: &'static str, raw: Option<&str>) -> Option<OffsetDateTime> {
        f.time(name, raw)
    }
}

impl FieldKind for Instant {
    type Raw = String;
    type Value = OffsetDateTime;
    fn read(f: &mut Fields, name: &'static str, raw: &String) -> Option<OffsetDateTime> {
        f.time(name, Some(raw))
    }
}

impl ParamKind for Flag {
    type Value = bool;
    fn read(f: &mut Fields, name: &'static str, raw: Option<&str>) -> Option<bool> {
        f.optional(name, raw, bool::parse)
    }
}

impl FieldKind for Flag {
    type Raw = bool;
    type Value = bool;
    fn read(_: &mut Fields, _: &'static str, raw: &bool) -> Option<bool> {
        Some(*raw)
    }
}

impl<T: Parse<Value>> FieldKind for Object<T> {
    type Raw = Value;
    type Value = T;
    fn read(f: &mut Fields, name: &'static str, raw: &Value) -> Option<T> {
        f.optional_value(name, Some(raw), <T as Parse<Value>>::parse)
    }
}

impl<T: Parse<[String]>, E> FieldKind for Items<T, E> {
    type Raw = Vec<String>;
    type Value = T;
    fn read(f: &mut Fields, name: &'static str, raw: &Vec<String>) -> Option<T> {
        f.optional_value(name, Some(raw.as_slice()), <T as Parse<[String]>>::parse)
    }
}

impl<T: Parse<i64>> FieldKind for Number<T> {
    type Raw = crate::extract::Integer;
    type Value = T;
    fn read(f: &mut Fields, name: &'static str, raw: &crate::extract::Integer) -> Option<T> {
        f.optional_value(name, Some(&raw.0), <T as Parse<i64>>::parse)
    }
}

impl<T: Parse<f64>> FieldKind for Real<T> {
    type Raw = f64;
    type Value = T;
    fn read(f: &mut Fields, name: &'static str, raw: &f64) -> Option<T> {
        f.optional_value(name, Some(raw), <T as Parse<f64>>::parse)
    }
}

/// How a body's field is read, by its mode in [`crate::resource::patch!`] (`set`, `clear`) and
/// [`crate::resource::created!`] (`required`, `optional`, `default`).
pub(crate) struct Field;

impl Field {
    /// A create field that must be given (`required` in [`crate::resource::created!`]): absent
    /// or null is 422 `required`.
    pub(crate) fn required<K: FieldKind>(
        f: &mut Fields,
        field: &'static str,
        raw: &Option<Option<K::Raw>>,
    ) -> Option<K::Value> {
        match raw.as_ref().and_then(Option::as_ref) {
            None => {
                f.missing(field);
                None
            }
            Some(v) => K::read(f, field, v),
        }
    }

    /// A create field that may be left out (`optional` in [`crate::resource::created!`]):
    /// absent or null is `Some(None)`; `None` only when the value is refused.
    pub(crate) fn optional<K: FieldKind>(
        f: &mut Fields,
        field: &'static str,
        raw: &Option<Option<K::Raw>>,
    ) -> Option<Option<K::Value>> {
        match raw.as_ref().and_then(Option::as_ref) {
            None => Some(None),
            Some(v) => K::read(f, field, v).map(Some),
        }
    }

    /// A create field with a default (`default(value)` in [`crate::resource::created!`]):
    /// absent or null is the default.
    pub(crate) fn default<K: FieldKind>(
        f: &mut Fields,
        field: &'static str,
        raw: &Option<Option<K::Raw>>,
        default: impl FnOnce() -> K::Value,
    ) -> Option<K::Value> {
        match raw.as_ref().and_then(Option::as_ref) {
            None => Some(default()),
            Some(v) => K::read(f, field, v),
        }
    }

    /// A PATCH field that may change but not be cleared (`set` in [`crate::resource::patch!`]):
    /// absent -> `None`, null is 422 `required`, a value is parsed by its kind `K`.
    pub(crate) fn set<K: FieldKind>(
        f: &mut Fields,
        field: &'static str,
        raw: &Option<Option<K::Raw>>,
    ) -> Option<K::Value> {
        let raw = f.present_not_null(field, raw.as_ref().map(Option::as_ref))?;
        K::read(f, field, raw)
    }

    /// A PATCH field that may be cleared (`clear` in [`crate::resource::patch!`]): absent ->
    /// `None`, null -> `Some(None)`, a value is parsed by its kind `K`.
    pub(crate) fn clear<K: FieldKind>(
        f: &mut Fields,
        field: &'static str,
        raw: &Option<Option<K::Raw>>,
    ) -> Option<Option<K::Value>> {
        match raw.as_ref()? {
            None => Some(None),
            Some(v) => K::read(f, field, v).map(Some),
        }
    }
}
