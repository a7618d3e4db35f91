//! The same reservation written the ways real senders write it — JSON-LD and microdata,
//! attributes in any order and case, double, single or no quotes, character references,
//! comments, CDATA, script contents that look like markup, malformed and unclosed tags — must
//! give the same category and the same event, start offset and time zone included.

use lifesync_normalizer::{normalize, Category, Event, Input, Kind, MailSignals};

fn event(html: &str) -> (Option<Category>, Option<Event>) {
    let n = normalize(&Input {
        kind: Kind::Email,
        text: "Your tickets",
        subject: Some("Your order"),
        sender: Some("Tickets <noreply@tickets.example>"),
        html: Some(html),
        hashtags: &[],
        mentions: &[],
        signals: MailSignals::NONE,
    });
    (n.category, n.event)
}

/// An opera ticket in Paris: `Théâtre du Châtelet`, order `TK-4471`, 1 June 2027 20:00 at
/// +02:00.
const VARIANTS: &[(&str, &str)] = &[
    (
        "JSON-LD, tidy",
        r#"<html><head><script type="application/ld+json">
{"@context": "http://schema.org", "@type": "EventReservation", "reservationNumber": "TK-4471",
 "underName": {"@type": "Person", "name": "Eva Green"},
 "reservationFor": {"@type": "Event", "name": "Carmen", "startDate": "2027-06-01T20:00:00+02:00",
   "location": {"@type": "Place", "name": "Théâtre du Châtelet"}}}
</script></head><body><p>Your tickets</p></body></html>"#,
    ),
    (
        "JSON-LD: upper-case tag, single-quoted type with a parameter, CDATA and comment \
         wrappers, \\u escapes, a decoy in a comment and one in a non-JSON-LD script",
        "<!-- <script type=\"application/ld+json\">{\"@type\":\"FlightReservation\"}</script> -->\
<SCRIPT Type='Application/LD+JSON; charset=UTF-8'>//<![CDATA[\n<!--\n\
[{\"@type\": \"WebPage\"}, {\"@context\": \"https://schema.org\", \"@type\": [\"https://schema.org/EventReservation\"],\
 \"reservationNumber\": \"TK-4471\", \"reservationFor\": {\"@type\": \"Event\", \"startDate\": \"2027-06-01T20:00:00+02:00\",\
 \"location\": {\"@type\": \"Place\", \"name\": \"Th\\u00e9\\u00e2tre du Ch\\u00e2telet\"}}}]\n-->\n//]]></SCRIPT>\
<script>var s = '<div itemscope itemtype=\"http://schema.org/FlightReservation\">';</script>",
    ),
    (
        "microdata, double quotes, meta and span values",
        r#"<div itemscope itemtype="http://schema.org/EventReservation">
  <meta itemprop="reservationNumber" content="TK-4471"/>
  <div itemprop="reservationFor" itemscope itemtype="http://schema.org/Event">
    <span itemprop="name">Carmen</span>
    <meta itemprop="startDate" content="2027-06-01T20:00:00+02:00"/>
    <div itemprop="location" itemscope itemtype="http://schema.org/Place">
      <span itemprop="name">Théâtre du Châtelet</span>
    </div>
  </div>
</div>"#,
    ),
    (
        "microdata: upper case, attributes reversed, single quotes, time datetime, named and \
         numeric character references, text split by inline tags",
        "<DIV ITEMTYPE='https://schema.org/EventReservation' ITEMSCOPE>\
<P>Order <B ITEMPROP='reservationNumber'>TK&#x2D;4471</B></P>\
<DIV ITEMTYPE='https://schema.org/Event' ITEMSCOPE ITEMPROP='reservationFor'>\
<TIME DATETIME='2027-06-01T20:00:00&#43;02:00' ITEMPROP='startDate'>1 June, 8 pm</TIME>\
<SPAN ITEMTYPE='https://schema.org/Place' ITEMSCOPE ITEMPROP='location'>\
<SPAN ITEMPROP='name'>Th&eacute;&acirc;tre <i>du</i>\n   Ch&#226;telet</SPAN></SPAN></DIV></DIV>",
    ),
    (
        "microdata: unquoted values, a duplicate attribute, decoys in a comment, a CDATA \
         section and a script",
        "<div itemscope itemtype=http://schema.org/EventReservation>\
<!-- <meta itemprop=reservationNumber content=WRONG1> -->\
<![CDATA[<meta itemprop=reservationNumber content=WRONG2>]]>\
<script>document.write('<meta itemprop=reservationNumber content=WRONG3>')</script>\
<meta itemprop=reservationNumber content=TK-4471 content=WRONG4>\
<div itemprop=reservationFor itemscope itemtype=http://schema.org/Event>\
<meta content=2027-06-01T20:00:00+02:00 itemprop=startDate>\
<div itemprop=location itemscope itemtype=http://schema.org/Place>\
<meta itemprop=name content=\"Th&eacute&acirc;tre du Ch&#226;telet\"></div></div></div>",
    ),
    (
        "microdata in a malformed table mail: unclosed cells, rows and paragraphs, a stray end \
         tag, XHTML-style self-closing divs, nothing closed at the end",
        "<table><tr><td><p>Hello<td itemscope itemtype=\"http://schema.org/EventReservation\">\
<p>Order: <span itemprop=\"reservationNumber\">TK-4471</span></font>\
<p><div itemprop=\"reservationFor\" itemscope itemtype=\"http://schema.org/Event\">\
<div itemprop=\"startDate\" content=\"2027-06-01T20:00:00+02:00\" />\
<div itemprop=\"location\" itemscope itemtype=\"http://schema.org/Place\"><p itemprop=\"name\">\
Théâtre du Châtelet<p>Doors open at 19:30<tr><td>Footer",
    ),
];

#[test]
fn six_ways_one_event() {
    for (what, html) in VARIANTS {
        let (category, event) = event(html);
        assert_eq!(category, Some(Category::EventTicket), "{what}");
        let e = event.unwrap_or_else(|| panic!("{what}: no event"));
        assert_eq!(e.event_type, "EventReservation", "{what}");
        assert_eq!(e.confirmation_code.as_deref(), Some("TK-4471"), "{what}");
        assert_eq!(e.location.as_deref(), Some("Théâtre du Châtelet"), "{what}");
        let start = e.start.unwrap_or_else(|| panic!("{what}: no start"));
        assert_eq!(start.to_string(), "2027-06-01T20:00:00+02:00", "{what}");
        assert_eq!(
            start.instant().map(|t| t.timestamp()),
            Some(1_811_872_800),
            "{what}"
        );
    }
}

#[test]
fn a_time_zone_is_kept_beside_the_offset() {
    for html in [
        r#"<script type="application/ld+json">{"@context":"https://schema.org","@type":"FlightReservation","reservationNumber":"RXJ34P","reservationFor":{"@type":"Flight","departureAirport":{"@type":"Airport","iataCode":"SFO"},"departureTime":"2027-03-04T20:15:00[America/Los_Angeles]"}}</script>"#,
        r#"<div itemscope itemtype="http://schema.org/FlightReservation"><meta itemprop="reservationNumber" content="RXJ34P"><div itemprop="reservationFor" itemscope itemtype="http://schema.org/Flight"><div itemprop="departureAirport" itemscope itemtype="http://schema.org/Airport"><meta itemprop="iataCode" content="SFO"></div><time itemprop="departureTime">2027-03-04 20:15 America/Los_Angeles</time></div></div>"#,
    ] {
        let (category, event) = event(html);
        assert_eq!(category, Some(Category::TravelFlight));
        let start = event.and_then(|e| e.start).expect("a start");
        assert_eq!(start.to_string(), "2027-03-04T20:15:00-08:00");
        assert_eq!(start.time_zone(), Some("America/Los_Angeles"));
    }
}

#[test]
fn without_an_offset_the_start_stays_local() {
    let (_, event) = event(
        r#"<script type="application/ld+json">{"@type":"LodgingReservation","checkinTime":"2027-05-01T15:00","reservationFor":{"@type":"LodgingBusiness","name":"Hotel Adlon"}}</script>"#,
    );
    let start = event.and_then(|e| e.start).expect("a start");
    assert_eq!(start.to_string(), "2027-05-01T15:00:00");
    assert_eq!(start.instant(), None);
    assert_eq!(start.time_zone(), None);
}

#[test]
fn the_text_of_an_html_body_stands_in_for_a_missing_snippet() {
    let html = "<html><head><title>Receipt</title><style>p{color:red}</style></head><body>\
<p>Your flight LH&nbsp;401 <b>FRA&rarr;JFK</b><br>Booking reference: <span>K7PX2Q</span>\
<p>Call +49 69 86 799 799 or write to jane.doe@example.com<!-- tracking 4111 1111 1111 1111 -->";
    let n = normalize(&Input {
        kind: Kind::Email,
        text: "",
        subject: Some("Your booking"),
        sender: Some("Lufthansa <noreply@lufthansa.com>"),
        html: Some(html),
        hashtags: &[],
        mentions: &[],
        signals: MailSignals::NONE,
    });
    assert_eq!(
        n.text,
        "Your flight LH 401 FRA→JFK Booking reference: K7PX2Q Call [phone] or write to [email]"
    );
    assert_eq!(n.category, Some(Category::TravelFlight));
    assert_eq!(
        n.event.and_then(|e| e.confirmation_code).as_deref(),
        Some("K7PX2Q")
    );
}
