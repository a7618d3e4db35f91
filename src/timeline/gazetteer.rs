//! The embedded gazetteer: major cities with coordinates, a standard UTC offset, their airports'
//! IATA codes and alternate names in several languages, read from `gazetteer.tsv` (shipped in
//! the binary; its header states the source and licence, CC0). No network at runtime.
//!
//! Lookups: [`Gazetteer::by_name`] (a place name as a provider or a reservation writes it:
//! `Lisboa`, `Lisbon, Portugal`, `LIS`), [`Gazetteer::scan`] (places named in free text:
//! city names as capitalised words, hashtags, IATA codes in capitals) and
//! [`Gazetteer::nearest`] (the city around a coordinate). Names match case- and
//! accent-insensitively (`Zürich` = `zurich`).

use std::{collections::HashMap, sync::OnceLock};

use unicode_normalization::{char::is_combining_mark, UnicodeNormalization};

/// A city of the gazetteer.
#[derive(Debug, Clone, PartialEq)]
pub struct City {
    pub name: &'static str,
    pub country: &'static str,
    pub lat: f64,
    pub lon: f64,
    /// Standard offset from UTC, minutes (daylight saving is not modelled).
    pub offset_min: i32,
}

/// An index into [`Gazetteer::cities`].
pub type CityId = usize;

/// Cities and their name and code indexes.
pub struct Gazetteer {
    pub cities: Vec<City>,
    names: HashMap<String, CityId>,
    iata: HashMap<&'static str, CityId>,
    /// The most words in any name.
    max_words: usize,
}

const DATA: &str = include_str!("gazetteer.tsv");

/// Names that are also common words: never read from free text (structured place names and
/// hashtags still match them).
const NOT_IN_TEXT: &[&str] = &["nice", "faro", "lima", "porto", "palma", "rio", "reading"];

/// The embedded gazetteer, parsed once.
pub fn get() -> &'static Gazetteer {
    static G: OnceLock<Gazetteer> = OnceLock::new();
    G.get_or_init(|| Gazetteer::parse(DATA))
}

/// Lower case without accents, whitespace folded to single spaces.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.nfd().filter(|c| !is_combining_mark(*c)) {
        for l in c.to_lowercase() {
            out.push(l);
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Great-circle distance in kilometres.
pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, lo1, la2, lo2) = (
        a.0.to_radians(),
        a.1.to_radians(),
        b.0.to_radians(),
        b.1.to_radians(),
    );
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().min(1.0).asin()
}

impl Gazetteer {
    fn parse(data: &'static str) -> Self {
        let mut g = Gazetteer {
            cities: Vec::new(),
            names: HashMap::new(),
            iata: HashMap::new(),
            max_words: 1,
        };
        for line in data.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let cols: Vec<&'static str> = line.split('\t').collect();
            let col = |i: usize| cols.get(i).copied().unwrap_or("");
            let id = g.cities.len();
            g.cities.push(City {
                name: col(0),
                country: col(1),
                lat: col(2).parse().expect("gazetteer latitude"),
                lon: col(3).parse().expect("gazetteer longitude"),
                offset_min: col(4).parse().expect("gazetteer offset"),
            });
            for code in col(5).split(',').filter(|c| !c.is_empty()) {
                g.iata.insert(code, id);
            }
            for name in std::iter::once(col(0)).chain(col(6).split(',')) {
                let f = fold(name);
                if f.is_empty() {
                    continue;
                }
                g.max_words = g.max_words.max(f.split(' ').count());
                g.names.entry(f).or_insert(id);
            }
        }
        g
    }

    pub fn city(&self, id: CityId) -> &City {
        &self.cities[id]
    }

    /// The city of an IATA airport code (exactly three capital letters).
    pub fn by_iata(&self, code: &str) -> Option<CityId> {
        self.iata.get(code).copied()
    }

    /// The city a structured place name names: the whole name (`Lisboa`), an airport code, a
    /// comma-separated part (`Lisbon, Portugal`), else the first name found in its words
    /// (`Hotel Adlon Berlin`).
    pub fn by_name(&self, name: &str) -> Option<CityId> {
        let trimmed = name.trim();
        if let Some(id) = self.by_iata(trimmed) {
            return Some(id);
        }
        if let Some(id) = self.names.get(&fold(trimmed)) {
            return Some(*id);
        }
        for part in trimmed.split([',', '(', ')', '-', '·', '|']) {
            let part = part.trim();
            if let Some(id) = self
                .by_iata(part)
                .or_else(|| self.names.get(&fold(part)).copied())
            {
                return Some(id);
            }
        }
        self.scan_words(trimmed, false).first().copied()
    }

    /// The cities named in free text, in order of appearance: names as capitalised words
    /// (`Lisboa`, `New York`), hashtags (`#lisboa`) and IATA codes written in capitals
    /// (`LIS`, `SFO→LIS`).
    pub fn scan(&self, text: &str) -> Vec<CityId> {
        self.scan_words(text, true)
    }

    fn scan_words(&self, text: &str, free_text: bool) -> Vec<CityId> {
        // Words: runs of letters, with whether a '#' precedes and whether they stand alone
        // (no digit or letter glued to either side: `AB3CDE` holds no airport code).
        let mut words: Vec<(&str, bool)> = Vec::new(); // (word, after '#')
        let mut alone: Vec<bool> = Vec::new();
        let chars: Vec<(usize, char)> = text.char_indices().collect();
        let mut i = 0;
        while i < chars.len() {
            if !chars[i].1.is_alphabetic() {
                i += 1;
                continue;
            }
            let s = chars[i].0;
            let mut j = i;
            while j < chars.len() && chars[j].1.is_alphabetic() {
                j += 1;
            }
            let e = chars.get(j).map_or(text.len(), |c| c.0);
            let before = i.checked_sub(1).map(|k| chars[k].1);
            let after = chars.get(j).map(|c| c.1);
            words.push((&text[s..e], before == Some('#')));
            alone.push(
                !before.is_some_and(char::is_alphanumeric)
                    && !after.is_some_and(char::is_alphanumeric),
            );
            i = j;
        }
        let mut out: Vec<CityId> = Vec::new();
        let mut i = 0;
        'words: while i < words.len() {
            let (w, hashed) = words[i];
            if free_text
                && alone[i]
                && w.len() == 3
                && w.chars().all(|c| c.is_ascii_uppercase())
                && !hashed
            {
                if let Some(id) = self.by_iata(w) {
                    out.push(id);
                    i += 1;
                    continue;
                }
            }
            let capitalised = w.chars().next().is_some_and(|c| !c.is_lowercase());
            if free_text && !capitalised && !hashed {
                i += 1;
                continue;
            }
            for n in (1..=self.max_words.min(words.len() - i)).rev() {
                let phrase = words[i..i + n]
                    .iter()
                    .map(|(w, _)| *w)
                    .collect::<Vec<_>>()
                    .join(" ");
                let f = fold(&phrase);
                if free_text && n == 1 && !hashed && NOT_IN_TEXT.contains(&f.as_str()) {
                    continue;
                }
                if let Some(id) = self.names.get(&f) {
                    out.push(*id);
                    i += n;
                    continue 'words;
                }
            }
            // A hashtag written as one word (`#newyork`, `#capetown`).
            if hashed {
                let joined: String = fold(w);
                if let Some(id) = self
                    .names
                    .iter()
                    .find(|(k, _)| k.contains(' ') && k.replace(' ', "") == joined)
                    .map(|(_, id)| *id)
                {
                    out.push(id);
                }
            }
            i += 1;
        }
        out
    }

    /// The nearest city within `max_km` of a coordinate.
    pub fn nearest(&self, lat: f64, lon: f64, max_km: f64) -> Option<CityId> {
        let mut best: Option<(CityId, f64)> = None;
        for (id, c) in self.cities.iter().enumerate() {
            // Cheap reject before the trigonometry: a degree of latitude is ~111 km.
            if (c.lat - lat).abs() * 111.0 > max_km {
                continue;
            }
            let d = distance_km((lat, lon), (c.lat, c.lon));
            if d <= max_km && best.is_none_or(|(_, b)| d < b) {
                best = Some((id, d));
            }
        }
        best.map(|(id, _)| id)
    }
}
