//! `GET /docs/api`: the API reference for people, rendered on the server
//! from the same OpenAPI document the API serves (nothing from a CDN, no
//! script): operations grouped by tag, each with its parameters, body and
//! responses, schema names linking to the schemas at the end.
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use leptos::prelude::LeptosOptions;
use serde_json::Value;
use std::fmt::Write as _;
use std::sync::OnceLock;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

pub async fn page(State(options): State<LeptosOptions>) -> Response {
    static PAGE: OnceLock<String> = OnceLock::new();
    let html = PAGE.get_or_init(|| {
        let doc = serde_json::to_value(super::openapi()).unwrap_or(Value::Null);
        render(&doc, &app::ui::stylesheet_href(&options))
    });
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        html.as_str(),
    )
        .into_response()
}

/// Text made safe for HTML.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The little Markdown the descriptions use: paragraphs, `code` and
/// **strong**.
fn prose(text: &str) -> String {
    text.split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .map(|p| format!("<p>{}</p>", inline(p.trim())))
        .collect()
}

fn inline(text: &str) -> String {
    let mut out = String::new();
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{}</code>", esc(part));
        } else {
            for (j, piece) in esc(part).split("**").enumerate() {
                if j % 2 == 1 {
                    let _ = write!(out, "<strong>{piece}</strong>");
                } else {
                    out.push_str(piece);
                }
            }
        }
    }
    out
}

fn anchor(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

fn schema_link(reference: &str) -> String {
    let name = reference.rsplit('/').next().unwrap_or(reference);
    format!(
        "<a href=\"#schema-{}\"><code>{}</code></a>",
        anchor(name),
        esc(name)
    )
}

/// How a schema reads in one line: its type, or a link to its definition.
fn type_label(schema: &Value) -> String {
    if let Some(reference) = schema["$ref"].as_str() {
        return schema_link(reference);
    }
    for (key, sep) in [("oneOf", " or "), ("anyOf", " or "), ("allOf", " and ")] {
        if let Some(parts) = schema[key].as_array() {
            return parts.iter().map(type_label).collect::<Vec<_>>().join(sep);
        }
    }
    if let Some(values) = schema["enum"].as_array() {
        let values: Vec<String> = values
            .iter()
            .map(|v| format!("<code>{}</code>", esc(&v.to_string())))
            .collect();
        return format!("one of {}", values.join(", "));
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if types.is_empty() {
        return "any".into();
    }
    types
        .iter()
        .map(|t| match *t {
            "array" => format!("array of {}", type_label(&schema["items"])),
            "object" if schema["additionalProperties"].is_object() => format!(
                "map of string to {}",
                type_label(&schema["additionalProperties"])
            ),
            t => match schema["format"].as_str() {
                Some(format) => format!("{} ({})", esc(t), esc(format)),
                None => esc(t),
            },
        })
        .collect::<Vec<_>>()
        .join(" or ")
}

/// The constraints worth telling: bounds and defaults.
fn constraints(schema: &Value) -> String {
    let mut notes = Vec::new();
    for (key, label) in [
        ("minimum", "min"),
        ("maximum", "max"),
        ("default", "default"),
        ("example", "example"),
    ] {
        if let Some(v) = schema.get(key) {
            notes.push(format!("{label} <code>{}</code>", esc(&v.to_string())));
        }
    }
    if notes.is_empty() {
        String::new()
    } else {
        format!(" <span class=\"muted\">({})</span>", notes.join(", "))
    }
}

fn content_rows(content: &Value) -> String {
    let mut out = String::new();
    if let Some(content) = content.as_object() {
        for (media, body) in content {
            let _ = write!(
                out,
                "<div><code>{}</code>: {}</div>",
                esc(media),
                type_label(&body["schema"])
            );
        }
    }
    out
}

fn render_operation(out: &mut String, path: &str, method: &str, op: &Value) {
    let id = op["operationId"].as_str().unwrap_or(method);
    let _ = write!(
        out,
        "<article class=\"operation\" id=\"op-{}\"><h3><code class=\"method\">{}</code> <code>{}</code></h3>",
        anchor(id),
        method.to_uppercase(),
        esc(path)
    );
    if let Some(summary) = op["summary"].as_str() {
        let _ = write!(out, "<p><strong>{}</strong></p>", esc(summary));
    }
    if let Some(description) = op["description"].as_str() {
        out.push_str(&prose(description));
    }
    let public = op["security"].as_array().is_some_and(|s| {
        s.iter()
            .all(|r| r.as_object().is_some_and(|o| o.is_empty()))
    });
    out.push_str(if public {
        "<p class=\"muted\">No credential needed.</p>"
    } else {
        "<p class=\"muted\">Needs <code>Authorization: Bearer …</code>.</p>"
    });
    if let Some(params) = op["parameters"].as_array().filter(|p| !p.is_empty()) {
        out.push_str("<h4>Parameters</h4><table><thead><tr><th>name</th><th>in</th><th>type</th><th>required</th><th>description</th></tr></thead><tbody>");
        for p in params {
            let _ = write!(
                out,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}{}</td><td>{}</td><td>{}</td></tr>",
                esc(p["name"].as_str().unwrap_or("")),
                esc(p["in"].as_str().unwrap_or("")),
                type_label(&p["schema"]),
                constraints(&p["schema"]),
                if p["required"].as_bool().unwrap_or(false) {
                    "yes"
                } else {
                    "no"
                },
                inline(p["description"].as_str().unwrap_or("")),
            );
        }
        out.push_str("</tbody></table>");
    }
    if op["requestBody"].is_object() {
        let body = &op["requestBody"];
        out.push_str("<h4>Request body</h4>");
        if let Some(description) = body["description"].as_str() {
            let _ = write!(out, "<p>{}</p>", inline(description));
        }
        out.push_str(&content_rows(&body["content"]));
    }
    out.push_str("<h4>Responses</h4><table><thead><tr><th>status</th><th>description</th><th>body</th></tr></thead><tbody>");
    if let Some(responses) = op["responses"].as_object() {
        let mut statuses: Vec<&String> = responses.keys().collect();
        statuses.sort();
        for status in statuses {
            let response = &responses[status];
            let mut headers = String::new();
            if let Some(hs) = response["headers"].as_object() {
                for name in hs.keys() {
                    let _ = write!(
                        headers,
                        " <span class=\"muted\">header <code>{}</code></span>",
                        esc(name)
                    );
                }
            }
            let _ = write!(
                out,
                "<tr><td><code>{}</code></td><td>{}{}</td><td>{}</td></tr>",
                esc(status),
                inline(response["description"].as_str().unwrap_or("")),
                headers,
                content_rows(&response["content"]),
            );
        }
    }
    out.push_str("</tbody></table></article>");
}

fn render_schema(out: &mut String, name: &str, schema: &Value) {
    let _ = write!(
        out,
        "<article class=\"schema\" id=\"schema-{}\"><h3><code>{}</code></h3>",
        anchor(name),
        esc(name)
    );
    if let Some(description) = schema["description"].as_str() {
        out.push_str(&prose(description));
    }
    let mut parts = vec![schema];
    if let Some(all) = schema["allOf"].as_array() {
        let links: Vec<String> = all
            .iter()
            .filter(|s| s["$ref"].is_string())
            .map(type_label)
            .collect();
        if !links.is_empty() {
            let _ = write!(out, "<p>Has every field of {}, and:</p>", links.join(", "));
        }
        parts = all.iter().filter(|s| !s["$ref"].is_string()).collect();
    }
    for part in parts {
        if let Some(props) = part["properties"].as_object() {
            let required: Vec<&str> = part["required"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            out.push_str("<table><thead><tr><th>field</th><th>type</th><th>required</th><th>description</th></tr></thead><tbody>");
            for (field, prop) in props {
                let _ = write!(
                    out,
                    "<tr><td><code>{}</code></td><td>{}{}</td><td>{}</td><td>{}</td></tr>",
                    esc(field),
                    type_label(prop),
                    constraints(prop),
                    if required.contains(&field.as_str()) {
                        "yes"
                    } else {
                        "no"
                    },
                    inline(prop["description"].as_str().unwrap_or("")),
                );
            }
            out.push_str("</tbody></table>");
        } else if !part["$ref"].is_string() {
            let _ = write!(out, "<p>{}</p>", type_label(part));
        }
    }
    out.push_str("</article>");
}

/// The page for `doc`, styled by the app's stylesheet at `stylesheet`.
pub fn render(doc: &Value, stylesheet: &str) -> String {
    let title = doc["info"]["title"].as_str().unwrap_or("API");
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{0} reference</title><link rel=\"stylesheet\" href=\"{2}\"></head>\
         <body class=\"api-reference\"><main class=\"page\"><h1>{0}</h1>\
         <p class=\"muted\">Version {1}. The machine-readable OpenAPI 3.1 document: \
         <a href=\"/api/v1/openapi.json\"><code>/api/v1/openapi.json</code></a>. \
         <a href=\"/dashboard\">Back to Codebook</a></p>",
        esc(title),
        esc(doc["info"]["version"].as_str().unwrap_or("")),
        esc(stylesheet),
    );
    out.push_str(&prose(doc["info"]["description"].as_str().unwrap_or("")));
    let tags: Vec<(String, String)> = doc["tags"]
        .as_array()
        .map(|tags| {
            tags.iter()
                .map(|t| {
                    (
                        t["name"].as_str().unwrap_or("").to_owned(),
                        t["description"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let empty = serde_json::Map::new();
    let paths = doc["paths"].as_object().unwrap_or(&empty);
    let operations_of = |tag: &str| {
        let mut ops = Vec::new();
        for (path, item) in paths {
            for method in METHODS {
                let op = &item[method];
                let tagged = op["tags"]
                    .as_array()
                    .is_some_and(|ts| ts.iter().any(|t| t.as_str() == Some(tag)));
                if op.is_object() && tagged {
                    ops.push((path.as_str(), method, op));
                }
            }
        }
        ops
    };
    out.push_str("<nav aria-label=\"Contents\"><h2>Contents</h2><ul>");
    for (tag, _) in &tags {
        let _ = write!(
            out,
            "<li><a href=\"#tag-{}\">{}</a><ul>",
            anchor(tag),
            esc(tag)
        );
        for (path, method, op) in operations_of(tag) {
            let _ = write!(
                out,
                "<li><a href=\"#op-{}\"><code>{} {}</code></a> {}</li>",
                anchor(op["operationId"].as_str().unwrap_or("")),
                method.to_uppercase(),
                esc(path),
                esc(op["summary"].as_str().unwrap_or("")),
            );
        }
        out.push_str("</ul></li>");
    }
    out.push_str("<li><a href=\"#schemas\">Schemas</a></li></ul></nav>");
    for (tag, description) in &tags {
        let _ = write!(
            out,
            "<section id=\"tag-{}\"><h2>{}</h2>{}",
            anchor(tag),
            esc(tag),
            prose(description)
        );
        for (path, method, op) in operations_of(tag) {
            render_operation(&mut out, path, method, op);
        }
        out.push_str("</section>");
    }
    out.push_str("<section id=\"schemas\"><h2>Schemas</h2>");
    if let Some(schemas) = doc["components"]["schemas"].as_object() {
        for (name, schema) in schemas {
            render_schema(&mut out, name, schema);
        }
    }
    out.push_str("</section></main></body></html>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_lists_every_operation_and_links_its_schemas() {
        let doc = serde_json::to_value(super::super::openapi()).unwrap();
        let html = render(&doc, "/pkg/codebook.0123456789abcdef.css");
        assert!(html.contains("href=\"/pkg/codebook.0123456789abcdef.css\""));
        assert!(!html.contains("<script"));
        assert!(!html.contains("style="));
        for (_, item) in doc["paths"].as_object().unwrap() {
            for (_, op) in item.as_object().unwrap() {
                let id = op["operationId"].as_str().unwrap();
                assert!(html.contains(&format!("id=\"op-{}\"", anchor(id))), "{id}");
            }
        }
        assert!(html.contains("href=\"#schema-CodeOut\""));
        assert!(html.contains("id=\"schema-CodeOut\""));
    }

    #[test]
    fn descriptions_are_escaped_then_lightly_formatted() {
        assert_eq!(
            inline("**Errors** are `{\"a\"}` <b>"),
            "<strong>Errors</strong> are <code>{&quot;a&quot;}</code> &lt;b&gt;"
        );
    }
}
