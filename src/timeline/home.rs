//! The home place: the city (or, outside the gazetteer, the 0.5° cell) holding the most located
//! posts and photos that are not within three days of a travel reservation; failing located
//! items, the most frequent origin of flights and trains. Home is never a trip's destination.

use std::collections::HashMap;

use chrono::Duration;

use super::{gazetteer::Gazetteer, place::Resolved, Home, Item};

/// Finds the home place, if the items show one.
pub fn detect(g: &Gazetteer, items: &[Item], resolved: &[Resolved]) -> Option<Home> {
    let mut travel: Vec<_> = resolved
        .iter()
        .filter_map(|r| r.reservation.as_ref().map(|r| r.start))
        .collect();
    travel.sort();
    let near_travel = |t: chrono::DateTime<chrono::Utc>| {
        let i = travel.partition_point(|s| *s < t - Duration::days(3));
        travel.get(i).is_some_and(|s| *s <= t + Duration::days(3))
    };
    // key → (count, lat sum, lon sum)
    let mut cells: HashMap<(i64, i64), (usize, f64, f64)> = HashMap::new();
    for (item, r) in items.iter().zip(resolved) {
        let Some(p) = &r.point else { continue };
        if near_travel(item.occurred_at) {
            continue;
        }
        let (lat, lon, key) = match p.city {
            Some(id) => {
                let c = g.city(id);
                (c.lat, c.lon, (i64::MIN, id as i64))
            }
            None => (
                p.lat,
                p.lon,
                ((p.lat * 2.0).round() as i64, (p.lon * 2.0).round() as i64),
            ),
        };
        let e = cells.entry(key).or_insert((0, 0.0, 0.0));
        e.0 += 1;
        e.1 += lat;
        e.2 += lon;
    }
    let best = cells.values().max_by(|a, b| {
        a.0.cmp(&b.0)
            .then(b.1.total_cmp(&a.1))
            .then(b.2.total_cmp(&a.2))
    });
    if let Some((n, lat, lon)) = best {
        return Some(Home {
            lat: lat / *n as f64,
            lon: lon / *n as f64,
        });
    }
    let mut origins: HashMap<usize, usize> = HashMap::new();
    for r in resolved.iter().filter_map(|r| r.reservation.as_ref()) {
        if let Some(c) = r.from {
            *origins.entry(c).or_default() += 1;
        }
    }
    let (city, _) = origins
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))?;
    let c = g.city(city);
    Some(Home {
        lat: c.lat,
        lon: c.lon,
    })
}
