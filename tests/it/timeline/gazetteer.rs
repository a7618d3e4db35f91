//! The embedded gazetteer: one city whatever the language, code or coordinate that names it;
//! words that are also city names are not read from free text.

use lifesync::timeline::gazetteer::get;

#[test]
fn names_codes_and_languages_resolve_to_one_city() {
    let g = get();
    let lisbon = g.by_name("Lisbon").unwrap();
    assert_eq!(g.by_name("Lisboa"), Some(lisbon));
    assert_eq!(g.by_name("LIS"), Some(lisbon));
    assert_eq!(g.by_name("Lisbon, Portugal"), Some(lisbon));
    assert_eq!(g.by_name("リスボン"), Some(lisbon));
    assert_eq!(g.city(g.by_name("München").unwrap()).name, "Munich");
    assert_eq!(g.city(g.by_name("zurich").unwrap()).name, "Zurich");
    assert_eq!(g.nearest(38.71, -9.13, 50.0), Some(lisbon));
    assert_eq!(g.nearest(0.0, -30.0, 50.0), None);
    assert_eq!(
        g.by_name("Hotel Adlon Berlin").map(|c| g.city(c).name),
        Some("Berlin")
    );
}

#[test]
fn free_text_finds_capitalised_names_hashtags_and_standalone_codes() {
    let g = get();
    let names = |t: &str| -> Vec<&str> { g.scan(t).into_iter().map(|c| g.city(c).name).collect() };
    assert_eq!(
        names("Your flight SFO → LIS on 3 May"),
        ["San Francisco", "Lisbon"]
    );
    assert_eq!(
        names("sunset #lisboa #newyork #東京"),
        ["Lisbon", "New York", "Tokyo"]
    );
    assert_eq!(names("what a nice day in la ciudad"), Vec::<&str>::new());
    assert_eq!(names("Back in New York City!"), ["New York"]);
    assert_eq!(names("lol the LIS was fun and Nice"), ["Lisbon"]);
    assert_eq!(names("code 2LIS9 and XCDG"), Vec::<&str>::new());
}
