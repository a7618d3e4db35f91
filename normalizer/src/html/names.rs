//! Tag and attribute names as integers, and what HTML says about each tag: a name (lowercased
//! by the tokenizer) is packed into one `u128` ([`Name`]) as the tokenizer hands over its
//! bytes, so comparing names is one integer comparison and no name is ever copied; a tag's
//! [`kind`] (void, hidden, block, …) is found by a binary search over one sorted table, and
//! the implied end tags (`<li>` before `<li>`, `<td>` before a cell, …) by [`implied_end`].

use std::sync::LazyLock;

/// A tag or attribute name packed into one integer: its first 15 bytes and its length, so
/// that comparing names is one integer comparison. Two names longer than 15 bytes with the
/// same length and first 15 bytes compare equal (only custom elements have such names).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) struct Name(pub(super) u128);

/// [`Name`]'s packing, usable in constants.
pub(super) const fn pack(name: &[u8]) -> u128 {
    let mut v = 0u128;
    let mut i = 0;
    while i < name.len() && i < 15 {
        v |= (name[i] as u128) << (8 * i);
        i += 1;
    }
    let len = if name.len() > 255 { 255 } else { name.len() };
    v | ((len as u128) << 120)
}

/// The packed names of a list of literals, as a constant.
macro_rules! names {
    ($($n:literal),+ $(,)?) => {
        &[$($crate::html::names::pack($n)),+]
    };
}
pub(super) use names;

impl Name {
    /// The name's (first 15) bytes.
    pub(super) fn bytes(&self) -> ([u8; 16], usize) {
        let len = ((self.0 >> 120) as usize).min(15);
        (self.0.to_le_bytes(), len)
    }

    pub(super) fn is(&self, names: &[u128]) -> bool {
        names.contains(&self.0)
    }
}

/// A name being packed as its bytes arrive (the tokenizer hands them over in pieces); the
/// result equals [`pack`] of the whole name.
#[derive(Default)]
pub(super) struct Packer {
    v: u128,
    len: usize,
}

impl Packer {
    pub(super) fn push(&mut self, s: &[u8]) {
        for &b in s {
            if self.len < 15 {
                self.v |= (b as u128) << (8 * self.len);
            }
            self.len += 1;
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The packed name so far.
    pub(super) fn peek(&self) -> Name {
        Name(self.v | ((self.len.min(255) as u128) << 120))
    }

    /// The packed name; the packer starts over.
    pub(super) fn take(&mut self) -> Name {
        let name = self.peek();
        *self = Packer::default();
        name
    }
}

/// What kind of element a tag name is (bit flags).
pub(super) mod kind {
    /// Never has content or an end tag.
    pub const VOID: u8 = 1;
    /// Its text is not visible.
    pub const HIDDEN: u8 = 2;
    /// Separates words in the visible text.
    pub const BLOCK: u8 = 4;
    /// Its start tag ends an open `<p>`.
    pub const CLOSES_P: u8 = 8;
    /// Stops the search for a `<p>` to end.
    pub const P_STOP: u8 = 16;
    /// SVG or MathML, where `/>` closes an element.
    pub const FOREIGN: u8 = 32;
    /// Its start tag implicitly ends other elements ([`super::implied_end`]).
    pub const IMPLIES: u8 = 64;
}

/// Every tag name with a kind, in groups.
const TABLE: &[(&[u128], u8)] = {
    use kind::*;
    &[
        (names!(b"td", b"th"), BLOCK | P_STOP | IMPLIES),
        (names!(b"caption"), BLOCK | P_STOP),
        (
            names!(b"tr", b"tbody", b"thead", b"tfoot", b"option"),
            BLOCK | IMPLIES,
        ),
        (names!(b"li", b"dd", b"dt"), BLOCK | CLOSES_P | IMPLIES),
        (
            names!(
                b"address",
                b"article",
                b"aside",
                b"blockquote",
                b"center",
                b"div",
                b"dl",
                b"fieldset",
                b"figcaption",
                b"figure",
                b"footer",
                b"form",
                b"h1",
                b"h2",
                b"h3",
                b"h4",
                b"h5",
                b"h6",
                b"header",
                b"main",
                b"nav",
                b"ol",
                b"p",
                b"pre",
                b"section",
                b"ul"
            ),
            BLOCK | CLOSES_P,
        ),
        (
            names!(
                b"area", b"base", b"col", b"embed", b"img", b"input", b"link", b"meta", b"param",
                b"source", b"track", b"wbr", b"keygen"
            ),
            VOID,
        ),
        (names!(b"br"), VOID | BLOCK),
        (names!(b"hr"), VOID | BLOCK | CLOSES_P),
        (names!(b"table"), BLOCK | CLOSES_P | P_STOP),
        (
            names!(
                b"head",
                b"title",
                b"script",
                b"style",
                b"noscript",
                b"iframe",
                b"noembed",
                b"noframes",
                b"xmp"
            ),
            HIDDEN,
        ),
        (names!(b"template"), HIDDEN | P_STOP),
        (names!(b"svg", b"math"), HIDDEN | FOREIGN),
        (
            names!(b"details", b"dialog", b"dir", b"hgroup", b"menu", b"summary"),
            CLOSES_P,
        ),
        (
            names!(b"html", b"button", b"object", b"marquee", b"applet"),
            P_STOP,
        ),
        (names!(b"body"), IMPLIES),
    ]
};

/// [`TABLE`] as one list sorted by name, for binary search.
static KINDS: LazyLock<Vec<(u128, u8)>> = LazyLock::new(|| {
    let mut v: Vec<(u128, u8)> = TABLE
        .iter()
        .flat_map(|&(names, k)| names.iter().map(move |&n| (n, k)))
        .collect();
    v.sort_unstable();
    v
});

/// The [`kind`] flags of a tag name (0 for any other element).
pub(super) fn kind_of(name: Name) -> u8 {
    let kinds = &*KINDS;
    kinds
        .binary_search_by_key(&name.0, |&(n, _)| n)
        .map_or(0, |i| kinds[i].1)
}

/// A rule of implied end tags: the elements a start tag ends (the innermost one open) and the
/// elements the search for them stops at.
pub(super) type Implied = (&'static [u128], &'static [u128]);

/// The elements the start tag `name` implicitly ends, besides a `<p>` ([`kind::CLOSES_P`]);
/// only tags of kind [`kind::IMPLIES`] have a rule.
pub(super) fn implied_end(name: Name) -> Option<Implied> {
    const RULES: &[(&[u128], Implied)] = &[
        (
            names!(b"td", b"th"),
            (names!(b"td", b"th"), names!(b"tr", b"table")),
        ),
        (
            names!(b"tr"),
            (
                names!(b"tr"),
                names!(b"table", b"tbody", b"thead", b"tfoot"),
            ),
        ),
        (
            names!(b"li"),
            (
                names!(b"li"),
                names!(b"ul", b"ol", b"menu", b"table", b"td", b"th"),
            ),
        ),
        (
            names!(b"dt", b"dd"),
            (names!(b"dt", b"dd"), names!(b"dl", b"table", b"td", b"th")),
        ),
        (
            names!(b"tbody", b"thead", b"tfoot"),
            (names!(b"tbody", b"thead", b"tfoot"), names!(b"table")),
        ),
        (
            names!(b"option"),
            (names!(b"option"), names!(b"select", b"datalist")),
        ),
        (names!(b"body"), (names!(b"head"), names!(b"html"))),
    ];
    RULES
        .iter()
        .find(|(starts, _)| name.is(starts))
        .map(|&(_, rule)| rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_in_pieces_equals_packing_whole() {
        for name in [
            "a",
            "td",
            "itemscope",
            "figcaption",
            "a-very-long-custom-element",
        ] {
            let mut p = Packer::default();
            for piece in name.as_bytes().chunks(2) {
                p.push(piece);
            }
            assert_eq!(p.take(), Name(pack(name.as_bytes())), "{name}");
            assert!(p.is_empty());
        }
    }

    #[test]
    fn kinds_and_rules() {
        let k = |n: &str| kind_of(Name(pack(n.as_bytes())));
        assert_eq!(k("span"), 0);
        assert_eq!(k("br"), kind::VOID | kind::BLOCK);
        assert_eq!(k("p"), kind::BLOCK | kind::CLOSES_P);
        // Every name with a rule is marked, and only those.
        for &(names, flags) in TABLE {
            for &n in names {
                let marked = flags & kind::IMPLIES != 0;
                assert_eq!(
                    implied_end(Name(n)).is_some(),
                    marked,
                    "{:?}",
                    Name(n).bytes()
                );
            }
        }
        // No name is listed twice.
        assert!(KINDS.windows(2).all(|w| w[0].0 != w[1].0));
    }
}
