//! Closed sets of values stored as TEXT (statuses, kinds, reasons).
//!
//! Each gets a stable `as_str()` (what is written to the database and never renamed once shipped),
//! a parser, and `ToSql`/`FromSql`, so rows read back as the enum. An unknown text in the database is
//! reported as a conversion error instead of being guessed at.

/// Declares a text-backed enum. The strings are part of the on-disk format.
macro_rules! text_enum {
    ($(#[$doc:meta])* $vis:vis enum $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The stable text stored in the database.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The value whose [`as_str`](Self::as_str) is `text`.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// Serialized as its stored text, so IPC, logs and the database spell it the same way.
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(deserializer)?;
                $name::parse(&text).ok_or_else(|| {
                    serde::de::Error::custom(format!("unknown {} {text:?}", stringify!($name)))
                })
            }
        }

        impl rusqlite::types::ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                Ok(rusqlite::types::ToSqlOutput::Borrowed(rusqlite::types::ValueRef::Text(
                    self.as_str().as_bytes(),
                )))
            }
        }

        impl rusqlite::types::FromSql for $name {
            fn column_result(
                value: rusqlite::types::ValueRef<'_>,
            ) -> rusqlite::types::FromSqlResult<Self> {
                let text = value.as_str()?;
                $name::parse(text).ok_or_else(|| {
                    rusqlite::types::FromSqlError::Other(
                        format!("unknown {} {text:?}", stringify!($name)).into(),
                    )
                })
            }
        }
    };
}

pub(crate) use text_enum;

/// Joins scope (or grant type) tokens into the canonical stored form: sorted, deduplicated,
/// space-separated, so that two grants with the same scopes in another order compare equal.
pub fn canonical_tokens<'a>(tokens: impl IntoIterator<Item = &'a str>) -> String {
    let mut set: Vec<&str> = tokens.into_iter().filter(|t| !t.is_empty()).collect();
    set.sort_unstable();
    set.dedup();
    set.join(" ")
}

/// Splits a space-separated stored list.
pub fn split_tokens(stored: &str) -> Vec<String> {
    stored
        .split(' ')
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_tokens_sorts_and_dedups() {
        assert_eq!(
            canonical_tokens("b a  b c".split(' ')),
            "a b c",
            "order and repeats must not change the canonical form"
        );
        assert_eq!(
            split_tokens("a b c"),
            vec!["a", "b", "c"],
            "split must undo join"
        );
        assert!(
            split_tokens("").is_empty(),
            "an empty list stores as an empty string"
        );
    }
}
