//! RFC 6901 JSON Pointers: writing them, and turning garde's paths into them.

use std::collections::HashMap;

use garde::error::{Kind, Path};

/// Appends `/segment` to `pointer`, escaping `~` as `~0` and `/` as `~1`.
pub(crate) fn push_segment(pointer: &mut String, segment: &str) {
    pointer.push('/');
    for c in segment.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c => pointer.push(c),
        }
    }
}

/// `pointer` with `segment` appended.
pub(crate) fn join(pointer: &str, segment: &str) -> String {
    let mut out = String::with_capacity(pointer.len() + segment.len() + 1);
    out.push_str(pointer);
    push_segment(&mut out, segment);
    out
}

/// The JSON Pointer of a garde error path.
///
/// garde names struct fields as Rust does; `fields` (the serialized field names of each struct
/// of the body, by pointer) turns those names into the ones the client sent when serde renamed
/// them with `rename_all`, or when garde was told the same name with `#[garde(rename = "..")]`.
pub(crate) fn from_garde(path: &Path, fields: &HashMap<String, &'static [&'static str]>) -> String {
    let mut pointer = String::new();
    // `__iter` is garde's own (hidden) accessor of the components, leaf first.
    for (kind, component) in path.__iter().rev() {
        match kind {
            Kind::None => {}
            Kind::Index => push_segment(&mut pointer, component),
            Kind::Key => {
                let name = match fields.get(&pointer) {
                    Some(names) => serialized_name(component, names),
                    None => component,
                };
                push_segment(&mut pointer, name);
            }
        }
    }
    pointer
}

/// The serialized name of Rust field `field` among a struct's serialized `names`.
fn serialized_name<'a>(field: &'a str, names: &[&'static str]) -> &'a str {
    let field = field.strip_prefix("r#").unwrap_or(field);
    if names.contains(&field) {
        return field;
    }
    let mut found: Vec<&'static str> = RENAME_RULES
        .iter()
        .filter_map(|rule| {
            let candidate = rule(field);
            names.iter().find(|n| **n == candidate).copied()
        })
        .collect();
    found.sort_unstable();
    found.dedup();
    match found.as_slice() {
        [name] => name,
        _ => field,
    }
}

/// serde's `rename_all` rules, applied to a snake_case Rust field name.
const RENAME_RULES: [fn(&str) -> String; 6] = [
    |f| f.to_ascii_uppercase(),
    pascal_case,
    |f| {
        let pascal = pascal_case(f);
        let mut chars = pascal.chars();
        chars
            .next()
            .map(|c| c.to_ascii_lowercase().to_string() + chars.as_str())
            .unwrap_or_default()
    },
    |f| f.replace('_', "-"),
    |f| f.to_ascii_uppercase().replace('_', "-"),
    |f| f.to_ascii_lowercase(),
];

fn pascal_case(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut capitalize = true;
    for c in field.chars() {
        if c == '_' {
            capitalize = true;
        } else if capitalize {
            out.push(c.to_ascii_uppercase());
            capitalize = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_escaped() {
        assert_eq!(join("/a", "b/c~d"), "/a/b~1c~0d");
        assert_eq!(join("", ""), "/");
    }

    #[test]
    fn rust_names_become_serialized_names() {
        let names: &[&'static str] = &["userName", "e-mail", "ID"];
        assert_eq!(serialized_name("user_name", names), "userName");
        assert_eq!(serialized_name("id", &["ID"]), "ID");
        assert_eq!(serialized_name("e_mail", names), "e-mail");
        assert_eq!(serialized_name("other", names), "other");
        assert_eq!(serialized_name("r#type", &["type"]), "type");
        assert_eq!(serialized_name("first_name", &["FirstName"]), "FirstName");
        assert_eq!(serialized_name("first_name", &["FIRST-NAME"]), "FIRST-NAME");
    }
}
