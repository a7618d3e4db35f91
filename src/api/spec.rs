//! The OpenAPI document as the service really behaves, built from poem-openapi's generated one:
//! every error status an operation can answer is declared with the contract's error shape
//! (`Error`), an optional field is `nullable` (it is sent as `null`), and the methods each
//! path serves are known, for the `Allow` header of a 405.

use serde_json::{json, Map, Value};

/// Error statuses every operation can answer: bad input, refused body or URI, internal.
const ALWAYS: [&str; 5] = ["400", "405", "413", "414", "500"];
/// Also on every operation under `/api/v1`.
const API: [&str; 3] = ["404", "409", "503"];
/// Also on operations that need a bearer token.
const SECURED: [&str; 3] = ["401", "403", "429"];

/// The document, completed; and the methods of each path (its template's segments).
pub struct Spec {
    pub json: String,
    routes: Vec<(Vec<String>, Vec<String>)>,
}

impl Spec {
    /// Completes poem-openapi's document (`generated`).
    pub fn complete(generated: &str) -> Self {
        let mut doc: Value = serde_json::from_str(generated).expect("poem-openapi writes JSON");
        let mut routes = Vec::new();
        if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
            for (path, item) in paths.iter_mut() {
                let Some(item) = item.as_object_mut() else {
                    continue;
                };
                let mut methods = Vec::new();
                for (method, op) in item.iter_mut() {
                    methods.push(method.to_uppercase());
                    document_errors(path, op);
                    forbid_nul_in_parameters(op);
                }
                let segments = path.split('/').map(str::to_string).collect();
                routes.push((segments, methods));
            }
        }
        // Served beside the document's own operations.
        for path in ["/openapi.json", "/docs"] {
            let segments = path.split('/').map(str::to_string).collect();
            routes.push((segments, vec!["GET".to_string()]));
        }
        let schemas = doc
            .pointer_mut("/components/schemas")
            .and_then(Value::as_object_mut);
        if let Some(schemas) = schemas {
            for schema in schemas.values_mut() {
                nullable_optionals(schema);
            }
            schemas.insert("Error".into(), error_schema());
        }
        Self {
            json: serde_json::to_string_pretty(&doc).expect("json"),
            routes,
        }
    }

    /// The methods served at `path` (GET also allows HEAD), or none for an unknown path.
    pub fn allowed(&self, path: &str) -> Option<String> {
        let parts: Vec<&str> = path.split('/').collect();
        let (_, methods) = self.routes.iter().find(|(template, _)| {
            template.len() == parts.len()
                && template
                    .iter()
                    .zip(&parts)
                    .all(|(t, p)| t == p || (t.starts_with('{') && !p.is_empty()))
        })?;
        let mut all = methods.clone();
        if all.iter().any(|m| m == "GET") {
            all.push("HEAD".into());
        }
        Some(all.join(", "))
    }
}

fn error_schema() -> Value {
    json!({
        "type": "object",
        "description": "The error shape of every failure.",
        "required": ["error", "message"],
        "properties": {
            "error": { "type": "string", "description": "A stable code." },
            "message": { "type": "string", "description": "Human text (input escaped, cut short)." }
        }
    })
}

fn document_errors(path: &str, op: &mut Value) {
    let secured = op
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|s| !s.is_empty());
    let mut statuses: Vec<&str> = ALWAYS.to_vec();
    if path.starts_with("/api/v1") {
        statuses.extend(API);
    }
    if secured {
        statuses.extend(SECURED);
    }
    if op.get("requestBody").is_some() {
        statuses.push("415");
    }
    let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
        return;
    };
    for status in statuses {
        responses.entry(status).or_insert_with(|| {
            json!({
                "description": description(status),
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
            })
        });
    }
}

fn description(status: &str) -> &'static str {
    match status {
        "400" => "Bad input (`invalid_parameter`, `invalid_json`, `invalid_input`, …).",
        "401" => "No valid bearer token (`unauthorized`).",
        "403" => "Not allowed for this user (`forbidden`).",
        "404" => "No such resource or route.",
        "405" => "Method not allowed (`Allow` lists the served ones).",
        "409" => "Conflict with the resource's state.",
        "413" => "Body larger than `API_MAX_BODY_BYTES` (`body_too_large`).",
        "414" => "Request target too long (`uri_too_long`).",
        "415" => "The body is not `application/json` (`unsupported_media_type`).",
        "429" => "Over `API_RATE_LIMIT_PER_MINUTE` (`rate_limited`, `Retry-After`).",
        "500" => "Internal error (`internal`, with a request id).",
        _ => "A dependency is down (`unavailable`).",
    }
}

/// Declares what the edge refuses (`input.rs`): no path or query string holds a NUL.
fn forbid_nul_in_parameters(op: &mut Value) {
    let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) else {
        return;
    };
    for schema in params.iter_mut().filter_map(|p| p.get_mut("schema")) {
        let free_string = schema.get("type").and_then(Value::as_str) == Some("string")
            && ["pattern", "enum", "format"]
                .iter()
                .all(|k| schema.get(k).is_none());
        if let (true, Some(obj)) = (free_string, schema.as_object_mut()) {
            obj.insert("pattern".into(), Value::String(r"^[^\x00]*$".into()));
        }
    }
}

/// Marks every property outside `required` as nullable: poem-openapi sends `None` as `null`.
fn nullable_optionals(schema: &mut Value) {
    let required: Vec<String> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    for (name, prop) in props.iter_mut() {
        if required.contains(name) {
            continue;
        }
        if let Some(obj) = prop.as_object_mut() {
            if obj.contains_key("$ref") {
                let reference = obj.remove("$ref").expect("checked");
                let mut wrapped = Map::new();
                wrapped.insert("allOf".into(), json!([{ "$ref": reference }]));
                obj.extend(wrapped);
            }
            obj.insert("nullable".into(), Value::Bool(true));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_lists_the_methods_of_a_template() {
        let spec = Spec::complete(
            r#"{"paths":{"/a/{id}":{"get":{"responses":{}},"delete":{"responses":{}}}}}"#,
        );
        let allow = spec.allowed("/a/7").unwrap();
        for m in ["GET", "DELETE", "HEAD"] {
            assert!(allow.contains(m), "{allow}");
        }
        assert_eq!(spec.allowed("/b"), None);
        assert!(spec.json.contains("\"405\""));
    }
}
