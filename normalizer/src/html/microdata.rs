//! HTML microdata items as JSON, built from the tokens of one pass: an element with
//! `itemscope` opens an item (`@type`: its `itemtype`, one string, or an array when it lists
//! several); an element with `itemprop` inside an item adds a property to the innermost open
//! item — a nested item when it has `itemscope` too, else its value (chosen by the element, see
//! [`super`]), else its text content (all descendant text, whitespace folded, trimmed). An
//! `itemprop` with several names sets each. The first value of a repeated property wins.
//! `itemref` is not followed.

use serde_json::{Map, Value};

struct Item {
    /// The names under which the item is a property of its parent item.
    itemprop: Option<String>,
    map: Map<String, Value>,
}

/// A property whose value is the text of an element still open.
struct Text {
    props: String,
    /// The item it belongs to (an index into `items`).
    item: usize,
    text: String,
}

/// Builds the items of one document.
#[derive(Default)]
pub(super) struct Builder {
    roots: Vec<Value>,
    items: Vec<Item>,
    texts: Vec<Text>,
}

fn set(map: &mut Map<String, Value>, props: &str, value: Value) {
    for p in props.split_ascii_whitespace() {
        map.entry(p.to_string()).or_insert_with(|| value.clone());
    }
}

impl Builder {
    /// Opens an item.
    pub(super) fn open_item(&mut self, itemtype: Option<String>, itemprop: Option<String>) {
        let mut map = Map::new();
        if let Some(t) = itemtype {
            let types: Vec<&str> = t.split_ascii_whitespace().collect();
            let v = match types.as_slice() {
                [] => None,
                [one] => Some(Value::String(one.to_string())),
                many => Some(Value::Array(
                    many.iter().map(|t| Value::String(t.to_string())).collect(),
                )),
            };
            if let Some(v) = v {
                map.insert("@type".into(), v);
            }
        }
        self.items.push(Item { itemprop, map });
    }

    /// Closes the innermost item: a property of its parent, or a top-level item.
    pub(super) fn close_item(&mut self) {
        let Some(item) = self.items.pop() else {
            return;
        };
        let v = Value::Object(item.map);
        match (self.items.last_mut(), item.itemprop) {
            (Some(parent), Some(props)) => set(&mut parent.map, &props, v),
            _ => self.roots.push(v),
        }
    }

    pub(super) fn in_item(&self) -> bool {
        !self.items.is_empty()
    }

    /// A property of the innermost item.
    pub(super) fn property(&mut self, props: &str, value: String) {
        if let Some(item) = self.items.last_mut() {
            set(
                &mut item.map,
                props,
                Value::String(value.trim().to_string()),
            );
        }
    }

    /// Starts collecting the text of an element as the value of `props`.
    pub(super) fn start_text(&mut self, props: String) {
        if let Some(item) = self.items.len().checked_sub(1) {
            self.texts.push(Text {
                props,
                item,
                text: String::new(),
            });
        }
    }

    /// Whether some element's text is being collected.
    pub(super) fn collecting(&self) -> bool {
        !self.texts.is_empty()
    }

    /// Text inside the open elements.
    pub(super) fn text(&mut self, s: &str) {
        for t in &mut self.texts {
            t.text.push_str(s);
        }
    }

    /// Ends the innermost text property.
    pub(super) fn end_text(&mut self) {
        let Some(t) = self.texts.pop() else {
            return;
        };
        let folded = t.text.split_whitespace().collect::<Vec<_>>().join(" ");
        if let Some(item) = self.items.get_mut(t.item) {
            set(&mut item.map, &t.props, Value::String(folded));
        }
    }

    /// The top-level items, every item still open closed.
    pub(super) fn finish(mut self) -> Vec<Value> {
        while !self.texts.is_empty() {
            self.end_text();
        }
        while !self.items.is_empty() {
            self.close_item();
        }
        self.roots
    }
}
