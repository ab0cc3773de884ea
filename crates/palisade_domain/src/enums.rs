//! [`str_enum!`](crate::str_enum): the one way Palisade declares a closed set of values
//! spelled as strings (a status, a kind, a role, a provider, an event type).
//!
//! The spelling is the one clients send and receive, the one the database stores and the one
//! its CHECK constraint lists: snake_case (`in_progress`, `cancelled`), or dotted snake_case
//! for event types (`customer.created`). A provider that spells a value otherwise is mapped
//! where its payload is read (the webhook handlers, the Stripe wire format), never stored as it
//! spells it.
//!
//! ```
//! palisade_domain::str_enum! {
//!     /// Whether a thing is still going.
//!     pub enum Progress {
//!         /// Not started.
//!         Pending = "pending",
//!         /// Going.
//!         InProgress = "in_progress",
//!         /// Stopped for good.
//!         Cancelled = "cancelled",
//!     }
//!     // Optional: Wire spellings of a provider where they differ from ours, read by
//!     // `from_wire` and written by `as_wire`; the others are spelled alike.
//!     wire { InProgress = "in-progress", Cancelled = "canceled" }
//! }
//! assert_eq!(Progress::InProgress.as_str(), "in_progress");
//! assert_eq!(Progress::parse("cancelled"), Ok(Progress::Cancelled));
//! assert_eq!(
//!     Progress::parse("canceled").map_err(|e| e.reason()),
//!     Err("must be one of pending, in_progress, cancelled")
//! );
//! assert_eq!(Progress::from_wire("canceled"), Ok(Progress::Cancelled));
//! assert_eq!(Progress::from_wire("pending"), Ok(Progress::Pending));
//! assert!(Progress::from_wire("cancelled").is_err(), "the provider never spells it so");
//! assert_eq!(Progress::Cancelled.as_wire(), "canceled");
//! assert_eq!(Progress::ALL.len(), 3);
//! ```
//!
//! What it declares: the enum (deriving `Debug, Clone, Copy, PartialEq, Eq, Hash`, plus any
//! attribute written above it, e.g. `#[derive(PartialOrd, Ord)]`); `ALL`, every value in
//! declaration order; `as_str`; `parse`, which accepts exactly the spellings of `as_str` and
//! refuses the rest with [`ParseError`](crate::ParseError) "must be one of a, b, c" (or the
//! message given after the variants as `refusal = "...";`, written in the API's words); and its
//! OpenAPI schema (`utoipa::ToSchema`, named after the enum): a string, one of the spellings of
//! `as_str`, so that the API's document lists the values a field takes
//! (`#[schema(value_type = CampaignStatus)]` on a field that holds the spelling).

#[doc(hidden)]
pub use utoipa;

/// The OpenAPI schema of a string enum: a string, one of `values` (used by [`str_enum!`]).
#[doc(hidden)]
pub fn string_schema(values: &[&str]) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(values.iter().copied()))
        .into()
}

/// Declares a string enum: see [the module documentation](crate::enums).
#[macro_export]
macro_rules! str_enum {
    // The refusal of `parse`: the one given, or the list of spellings.
    (@refusal [$refusal:literal] $($text:literal),+) => {
        $refusal
    };
    (@refusal [] $first:literal $(, $text:literal)*) => {
        concat!("must be one of ", $first $(, ", ", $text)*)
    };
    (
        $(#[$attr:meta])*
        $vis:vis enum $name:ident {
            $($(#[$vattr:meta])* $variant:ident = $text:literal),+ $(,)?
        }
        $(refusal = $refusal:literal;)?
        $(wire { $($wire_variant:ident = $wire_text:literal),+ $(,)? })?
    ) => {
        $(#[$attr])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $($(#[$vattr])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The spelling clients see and the database stores.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// Parses the spelling of `as_str`, exactly (no other case, no whitespace).
            pub fn parse(s: &str) -> ::std::result::Result<Self, $crate::ParseError> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::ParseError::new($crate::str_enum!(
                        @refusal [$($refusal)?] $($text),+
                    ))),
                }
            }
        }

        impl $crate::Parse for $name {
            fn parse(s: &str) -> ::std::result::Result<Self, $crate::ParseError> {
                $name::parse(s)
            }
        }

        impl $crate::enums::utoipa::PartialSchema for $name {
            fn schema() -> $crate::enums::utoipa::openapi::RefOr<
                $crate::enums::utoipa::openapi::schema::Schema,
            > {
                $crate::enums::string_schema(&[$($text),+])
            }
        }

        impl $crate::enums::utoipa::ToSchema for $name {
            fn name() -> ::std::borrow::Cow<'static, str> {
                ::std::borrow::Cow::Borrowed(stringify!($name))
            }
        }

        $(
            impl $name {
                /// Parses the provider's spelling: its own where it differs from ours, ours
                /// elsewhere.
                pub fn from_wire(s: &str) -> ::std::result::Result<Self, $crate::ParseError> {
                    match s {
                        $($wire_text => Ok($name::$wire_variant),)+
                        _ => match Self::parse(s) {
                            Ok($($name::$wire_variant)|+) => Err($crate::ParseError::new(
                                "is not spelled as the provider spells it",
                            )),
                            other => other,
                        },
                    }
                }

                /// The provider's spelling.
                pub const fn as_wire(self) -> &'static str {
                    match self {
                        $($name::$wire_variant => $wire_text,)+
                        #[allow(unreachable_patterns)]
                        other => other.as_str(),
                    }
                }
            }
        )?
    };
}

#[cfg(test)]
mod tests {
    crate::str_enum! {
        /// A test enum with an explicit refusal.
        #[derive(PartialOrd, Ord)]
        enum Size {
            /// Small.
            Small = "small",
            /// Large.
            Large = "large",
        }
        refusal = "must be small or large";
    }

    crate::str_enum! {
        /// A test enum spelled otherwise on the wire, everywhere.
        enum Dotted {
            /// A.
            First = "thing.first",
            /// B.
            Second = "thing.second",
        }
        wire { First = "First", Second = "Second" }
    }

    #[test]
    fn every_value_round_trips_and_nothing_else_parses() {
        for s in Size::ALL {
            assert_eq!(Size::parse(s.as_str()), Ok(*s));
        }
        for d in Dotted::ALL {
            assert_eq!(Dotted::parse(d.as_str()), Ok(*d));
            assert_eq!(Dotted::from_wire(d.as_wire()), Ok(*d));
            assert!(Dotted::from_wire(d.as_str()).is_err());
            assert!(Dotted::parse(d.as_wire()).is_err());
        }
        assert!(Size::Small < Size::Large, "extra derives pass through");
        for bad in ["Small", " small", "small ", "", "medium"] {
            assert_eq!(
                Size::parse(bad).map_err(|e| e.reason()),
                Err("must be small or large"),
                "{bad:?}"
            );
        }
        assert_eq!(
            Dotted::parse("thing").map_err(|e| e.reason()),
            Err("must be one of thing.first, thing.second")
        );
    }

    #[test]
    fn the_openapi_schema_is_named_after_the_enum_and_lists_its_spellings() {
        use utoipa::{PartialSchema, ToSchema};
        assert_eq!(Dotted::name(), "Dotted");
        assert_eq!(
            serde_json::to_value(Dotted::schema()).map_err(|e| e.to_string()),
            Ok(serde_json::json!({"type": "string", "enum": ["thing.first", "thing.second"]})),
            "our spellings, not the wire's"
        );
    }
}
