//! Language-independent shapes of travel content: airport pairs written with IATA codes
//! (`CDG→BCN`, `FRA - ORD`, `(SEA) … (ANC)`, `HND（羽田）`) and flight numbers (`LH 401`,
//! `UA110`, `JL123便`) whose airline designator is a known one. Codes are checked against
//! tables of the busiest airports and of airline designators (IATA's published codes), so
//! `USD - EUR` or `ICE 597` are not taken for travel.

use regex::Regex;
use std::sync::LazyLock;

/// IATA codes of the world's busier airports (ACI / IATA airport tables).
const AIRPORTS: &[&str] = &[
    "ATL", "PEK", "PKX", "DXB", "LAX", "HND", "NRT", "ORD", "LHR", "LGW", "STN", "LTN", "HKG",
    "PVG", "SHA", "CDG", "ORY", "DFW", "CAN", "AMS", "FRA", "IST", "SAW", "DEL", "BOM", "BLR",
    "MAA", "CCU", "HYD", "GOI", "JAI", "PNQ", "LKO", "COK", "ICN", "GMP", "PUS", "CJU", "TAE",
    "KWJ", "CJJ", "SIN", "DEN", "BKK", "DMK", "JFK", "EWR", "LGA", "KUL", "MAD", "BCN", "SFO",
    "CTU", "TFU", "SZX", "LAS", "SEA", "MIA", "CLT", "PHX", "IAH", "MCO", "MUC", "SYD", "MEL",
    "BNE", "PER", "YYZ", "YVR", "YUL", "FCO", "MXP", "LIN", "BGY", "VCE", "NAP", "BLQ", "CTA",
    "PMO", "BRI", "PSA", "TRN", "FLR", "DOH", "RUH", "JED", "DMM", "MED", "CAI", "AMM", "AUH",
    "SHJ", "KWI", "MCT", "BAH", "BEY", "TLV", "CMN", "SVO", "DME", "VKO", "LED", "AER", "KZN",
    "SVX", "OVB", "KGD", "VVO", "KUF", "KRR", "ZRH", "GVA", "VIE", "CPH", "ARN", "OSL", "HEL",
    "DUB", "BRU", "CRL", "LIS", "OPO", "FAO", "ATH", "PRG", "WAW", "WMI", "KRK", "GDN", "WRO",
    "KTW", "POZ", "RZE", "LCJ", "SZZ", "BUD", "OTP", "SOF", "BEG", "ZAG", "HAM", "BER", "TXL",
    "DUS", "CGN", "STR", "HAJ", "NUE", "LEJ", "DRS", "BRE", "PMI", "AGP", "ALC", "VLC", "SVQ",
    "BIO", "IBZ", "TFS", "LPA", "ACE", "NCE", "LYS", "MRS", "TLS", "BOD", "NTE", "EIN", "RTM",
    "GRQ", "MST", "ANR", "ADB", "ESB", "AYT", "TZX", "BJV", "DLM", "ADA", "ASR", "GZT", "GRU",
    "CGH", "GIG", "SDU", "BSB", "SSA", "REC", "FOR", "FLN", "POA", "CNF", "MEX", "CUN", "GDL",
    "BOG", "LIM", "SCL", "EZE", "AEP", "PTY", "BOS", "IAD", "DCA", "BWI", "PHL", "DTW", "MSP",
    "SLC", "SAN", "PDX", "AUS", "BNA", "MSY", "TPA", "FLL", "HNL", "ANC", "YYC", "ITM", "KIX",
    "UKB", "CTS", "FUK", "OKA", "NGO", "SDJ", "HIJ", "KOJ", "TPE", "TSA", "KHH", "RMQ", "MFM",
    "XIY", "CKG", "XMN", "KMG", "HGH", "NKG", "WUH", "CSX", "TAO", "DLC", "SYX", "MNL", "CEB",
    "CGK", "DPS", "SGN", "HAN", "DAD", "HKT", "CNX", "KTM", "CMB", "DAC", "KHI", "LHE", "ISB",
    "JNB", "CPT", "NBO", "ADD", "LOS", "ACC", "AKL", "CHC", "REK", "KEF", "EDI", "GLA", "MAN",
    "BHX", "BRS", "NCL", "BFS", "ORK", "SNN", "LUX", "BSL", "TRD", "BGO", "GOT", "RIX", "VNO",
    "TLL", "KBP", "TBS", "EVN", "GYD", "ALA", "TAS",
];

/// Two-character IATA airline designators of the larger carriers.
const AIRLINES: &[&str] = &[
    "AA", "DL", "UA", "WN", "B6", "AS", "HA", "NK", "F9", "G4", "AC", "WS", "Y4", "LA", "AV", "CM",
    "G3", "AD", "AR", "LH", "EW", "LX", "OS", "SN", "BA", "VS", "AF", "KL", "HV", "IB", "I2", "VY",
    "UX", "V7", "NT", "U2", "FR", "W6", "DY", "D8", "SK", "AY", "FI", "EI", "TP", "AZ", "A3", "LO",
    "QS", "BT", "TK", "PC", "XQ", "VF", "EK", "QR", "EY", "SV", "XY", "FZ", "G9", "WY", "GF", "RJ",
    "MS", "LY", "SU", "S7", "DP", "U6", "UT", "AI", "6E", "SG", "QP", "IX", "JL", "NH", "MM", "BC",
    "GK", "ZG", "CA", "MU", "CZ", "HU", "MF", "3U", "9C", "FM", "ZH", "CI", "BR", "JX", "CX", "UO",
    "HX", "KE", "OZ", "7C", "LJ", "TW", "BX", "SQ", "TR", "TG", "FD", "AK", "MH", "GA", "VN", "VJ",
    "PR", "5J", "QF", "JQ", "VA", "NZ", "ET", "KQ", "N0", "OG", "RO", "JU", "A9", "HY", "KC", "UL",
    "PK", "BG", "WF",
];

static IATA_PAIR_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?-u:\b)([A-Z]{3})(?-u:\b)\s*(?:→|->|=>|⇒|—|–|-|/|>|✈)\s*([A-Z]{3})(?-u:\b)",
        r"|[(（]([A-Z]{3})[)）]"
    ))
    .expect("IATA regex compiles")
});

static FLIGHT_NO_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?-u:\b)([A-Z0-9]{2})[ ]?([0-9]{1,4})(?:[^0-9A-Za-z:]|$)")
        .expect("flight number regex compiles")
});

fn airport(code: &str) -> bool {
    AIRPORTS.contains(&code)
}

/// True when `text` names a route between two known airports: `CDG→BCN`, `FRA - ORD`, or two
/// different parenthesised codes (`Seattle (SEA) to Anchorage (ANC)`).
pub(super) fn airport_pair(text: &str) -> bool {
    if !text.bytes().any(|b| b.is_ascii_uppercase()) {
        return false;
    }
    let mut bracketed: Option<&str> = None;
    for c in IATA_PAIR_RE.captures_iter(text) {
        if let (Some(a), Some(b)) = (c.get(1), c.get(2)) {
            if a.as_str() != b.as_str() && airport(a.as_str()) && airport(b.as_str()) {
                return true;
            }
        } else if let Some(a) = c.get(3).map(|m| m.as_str()).filter(|a| airport(a)) {
            match bracketed {
                Some(b) if b != a => return true,
                _ => bracketed = Some(a),
            }
        }
    }
    false
}

/// True when `text` holds a flight number with a known airline designator (`LH 401`,
/// `JL123便`); the designator must contain a letter and the number 1–4 digits.
pub(super) fn flight_number(text: &str) -> bool {
    if !text.bytes().any(|b| b.is_ascii_digit()) {
        return false;
    }
    FLIGHT_NO_RE.captures_iter(text).any(|c| {
        let d = &c[1];
        d.bytes().any(|b| b.is_ascii_uppercase()) && AIRLINES.contains(&d)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs() {
        assert!(airport_pair("CDG→BCN"));
        assert!(airport_pair("Frankfurt FRA - ORD Chicago"));
        assert!(airport_pair("Seattle (SEA) to Anchorage (ANC)"));
        assert!(airport_pair("東京（HND）→ 札幌（CTS）"));
        assert!(!airport_pair("USD - EUR"));
        assert!(!airport_pair("(SEA) only"));
        assert!(!airport_pair("no codes here"));
    }

    #[test]
    fn flight_numbers() {
        assert!(flight_number("Flight LH 401 departs"));
        assert!(flight_number("UA110."));
        assert!(flight_number("JL123便"));
        assert!(!flight_number("ICE 597 to Munich"));
        assert!(!flight_number("ZZ 123"));
        assert!(!flight_number("at 10:45"));
    }
}
