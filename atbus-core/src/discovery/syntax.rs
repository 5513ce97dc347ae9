//! The string rules of Kubernetes apimachinery that records follow: DNS-subdomain names
//! (`IsDNS1123Subdomain`), qualified names for label and annotation keys (`IsQualifiedName`),
//! label values (`IsValidLabelValue`) and the 256 KiB annotation budget.
//!
//! Each check returns the [`Violation`]; record validation adds the field path and the rule.

use std::collections::BTreeMap;

use super::validate::{Rule, Violation};

/// Longest DNS subdomain (node, relay and group names; label-key prefixes).
pub const MAX_NAME_LEN: usize = 253;
/// Longest label value and name part of a qualified name.
pub const MAX_LABEL_LEN: usize = 63;
/// Most bytes of annotation keys and values together, per record.
pub const MAX_ANNOTATIONS_SIZE: usize = 256 * 1024;

/// Checks a node, relay, group or member name: a Kubernetes DNS subdomain (RFC 1123).
pub fn validate_name(name: &str) -> Result<(), Violation> {
    if name.is_empty() {
        return Err(Violation::Empty);
    }
    if name.len() > MAX_NAME_LEN {
        return Err(too_long("value", name, MAX_NAME_LEN));
    }
    // Valid names (every `Bus::send` checks its peer's) pass in one pass over the bytes; the
    // checks below find what is wrong with the others.
    if is_plain_name(name.as_bytes()) {
        return Ok(());
    }
    check_name_parts(name)
}

/// The character and part checks of [`validate_name`], each with its own violation.
fn check_name_parts(name: &str) -> Result<(), Violation> {
    check_characters(name, 0, |c| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.'
    })?;
    let mut start = 0;
    for part in name.split('.') {
        if part.is_empty() {
            return Err(Violation::EmptyPart("dot-separated part"));
        }
        check_edges(part, start, |b| {
            b.is_ascii_lowercase() || b.is_ascii_digit()
        })?;
        start += part.len() + 1;
    }
    Ok(())
}

/// Whether `name` is a valid name, by bytes: `[a-z0-9.-]`, alphanumeric at both ends and on
/// both sides of every dot (so no dot-separated part is empty or has a `-` at an edge).
fn is_plain_name(name: &[u8]) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let (Some(&first), Some(&last)) = (name.first(), name.last()) else {
        return false;
    };
    alnum(first)
        && alnum(last)
        && name.iter().enumerate().all(|(i, &b)| match b {
            b'.' => alnum(name[i - 1]) && alnum(name[i + 1]),
            b'-' => true,
            _ => alnum(b),
        })
}

/// Checks a label key or annotation key: a Kubernetes qualified name, `[prefix/]name`.
pub fn validate_label_key(key: &str) -> Result<(), Violation> {
    if key.is_empty() {
        return Err(Violation::Empty);
    }
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        if name.contains('/') {
            return Err(Violation::TooManySlashes);
        }
        if prefix.is_empty() {
            return Err(Violation::EmptyPart("prefix"));
        }
        validate_name(prefix).map_err(|violation| match violation {
            Violation::TooLong { length, max, .. } => Violation::TooLong {
                part: "prefix",
                length,
                max,
            },
            other => other,
        })?;
    }
    if name.is_empty() {
        return Err(Violation::EmptyPart("name"));
    }
    let offset = key.len() - name.len();
    check_label_text(name, offset, "name")
}

/// Checks a label value: empty, or at most 63 characters like the name part of a key.
pub fn validate_label_value(value: &str) -> Result<(), Violation> {
    if value.is_empty() {
        return Ok(());
    }
    check_label_text(value, 0, "value")
}

/// Checks annotations: every key a qualified name, keys and values together at most 256 KiB.
/// Reports the first bad key, or the total size.
pub fn validate_annotations(
    annotations: &BTreeMap<String, String>,
) -> Result<(), (Option<&str>, Rule, Violation)> {
    for key in annotations.keys() {
        validate_label_key(key).map_err(|v| (Some(key.as_str()), Rule::QualifiedName, v))?;
    }
    let total: usize = annotations.iter().map(|(k, v)| k.len() + v.len()).sum();
    if total > MAX_ANNOTATIONS_SIZE {
        return Err((
            None,
            Rule::AnnotationsSize,
            Violation::TooLong {
                part: "total",
                length: total,
                max: MAX_ANNOTATIONS_SIZE,
            },
        ));
    }
    Ok(())
}

fn check_label_text(text: &str, offset: usize, part: &'static str) -> Result<(), Violation> {
    if text.len() > MAX_LABEL_LEN {
        return Err(too_long(part, text, MAX_LABEL_LEN));
    }
    check_characters(text, offset, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
    })?;
    check_edges(text, offset, |b| b.is_ascii_alphanumeric())
}

fn too_long(part: &'static str, text: &str, max: usize) -> Violation {
    Violation::TooLong {
        part,
        length: text.len(),
        max,
    }
}

fn check_characters(
    text: &str,
    offset: usize,
    allowed: impl Fn(char) -> bool,
) -> Result<(), Violation> {
    match text.char_indices().find(|(_, c)| !allowed(*c)) {
        Some((position, character)) => Err(Violation::InvalidCharacter {
            character,
            position: offset + position,
        }),
        None => Ok(()),
    }
}

/// First and last byte of a non-empty, already character-checked (so ASCII) part.
fn check_edges(part: &str, offset: usize, edge_ok: impl Fn(u8) -> bool) -> Result<(), Violation> {
    let bytes = part.as_bytes();
    if !edge_ok(bytes[0]) {
        return Err(Violation::NotAlphanumericAtEdge { position: offset });
    }
    if !edge_ok(bytes[bytes.len() - 1]) {
        return Err(Violation::NotAlphanumericAtEdge {
            position: offset + bytes.len() - 1,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    proptest::proptest! {
        #[test]
        fn the_one_pass_check_accepts_exactly_the_valid_names(
            name in "[ab0.\\-X]{1,12}",
        ) {
            proptest::prop_assert_eq!(
                is_plain_name(name.as_bytes()),
                check_name_parts(&name).is_ok(),
                "{}", name
            );
        }
    }

    use super::*;

    #[test]
    fn names_are_dns_subdomains() {
        let good = [
            "a",
            "0",
            "app-1",
            "relay.eu-1.game",
            "a-b.c-d",
            &"a".repeat(253),
        ];
        for name in good {
            assert_eq!(validate_name(name), Ok(()), "{name}");
        }
        let long = "a".repeat(254);
        let bad: [(&str, Violation); 10] = [
            ("", Violation::Empty),
            (
                &long,
                Violation::TooLong {
                    part: "value",
                    length: 254,
                    max: 253,
                },
            ),
            (
                "App",
                Violation::InvalidCharacter {
                    character: 'A',
                    position: 0,
                },
            ),
            (
                "a_b",
                Violation::InvalidCharacter {
                    character: '_',
                    position: 1,
                },
            ),
            (
                "aé",
                Violation::InvalidCharacter {
                    character: 'é',
                    position: 1,
                },
            ),
            ("-a", Violation::NotAlphanumericAtEdge { position: 0 }),
            ("a-", Violation::NotAlphanumericAtEdge { position: 1 }),
            ("a.-b", Violation::NotAlphanumericAtEdge { position: 2 }),
            ("a..b", Violation::EmptyPart("dot-separated part")),
            (".a", Violation::EmptyPart("dot-separated part")),
        ];
        for (name, violation) in bad {
            assert_eq!(validate_name(name), Err(violation), "{name}");
        }
    }

    #[test]
    fn label_keys_are_qualified_names() {
        let good = [
            "area.region",
            "a",
            "A_b-C.d",
            "example.com/zone",
            "k8s.io/Name_1",
            &"a".repeat(63),
        ];
        for key in good {
            assert_eq!(validate_label_key(key), Ok(()), "{key}");
        }
        let long_name = "a".repeat(64);
        let long_prefix = format!("{}/a", "a".repeat(254));
        let bad: [(&str, Violation); 9] = [
            ("", Violation::Empty),
            ("/a", Violation::EmptyPart("prefix")),
            ("a/", Violation::EmptyPart("name")),
            ("a/b/c", Violation::TooManySlashes),
            (
                "Example.com/a",
                Violation::InvalidCharacter {
                    character: 'E',
                    position: 0,
                },
            ),
            (
                "ex.com/a b",
                Violation::InvalidCharacter {
                    character: ' ',
                    position: 8,
                },
            ),
            (
                "ex.com/_a",
                Violation::NotAlphanumericAtEdge { position: 7 },
            ),
            (
                &long_name,
                Violation::TooLong {
                    part: "name",
                    length: 64,
                    max: 63,
                },
            ),
            (
                &long_prefix,
                Violation::TooLong {
                    part: "prefix",
                    length: 254,
                    max: 253,
                },
            ),
        ];
        for (key, violation) in bad {
            assert_eq!(validate_label_key(key), Err(violation), "{key}");
        }
    }

    #[test]
    fn label_values() {
        for value in ["", "eu", "Zone_1.a-b", &"v".repeat(63)] {
            assert_eq!(validate_label_value(value), Ok(()), "{value}");
        }
        let long = "v".repeat(64);
        let bad: [(&str, Violation); 4] = [
            (
                &long,
                Violation::TooLong {
                    part: "value",
                    length: 64,
                    max: 63,
                },
            ),
            (
                "a/b",
                Violation::InvalidCharacter {
                    character: '/',
                    position: 1,
                },
            ),
            ("-a", Violation::NotAlphanumericAtEdge { position: 0 }),
            ("a.", Violation::NotAlphanumericAtEdge { position: 1 }),
        ];
        for (value, violation) in bad {
            assert_eq!(validate_label_value(value), Err(violation), "{value}");
        }
    }

    #[test]
    fn annotations_size_is_bounded() {
        let mut annotations = BTreeMap::new();
        annotations.insert("note".to_owned(), "x".repeat(MAX_ANNOTATIONS_SIZE - 4));
        assert_eq!(validate_annotations(&annotations), Ok(()));
        annotations.insert("n".to_owned(), String::new());
        assert_eq!(
            validate_annotations(&annotations).unwrap_err().1,
            Rule::AnnotationsSize
        );
    }
}
