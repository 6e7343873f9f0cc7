//! Realistic German demo data for a fresh installation: organizations, persons, deals
//! and activities.
//!
//! The generator is pure: it reads no clock (the caller passes `today`), does no I/O and
//! draws randomness only from the RNG it is given, so one seed always yields the same
//! data. Everything it produces passes the domain parsers.
//!
//! Nothing here points at the real world: websites and email addresses use the reserved
//! `.example` top-level domain, and landline numbers in Berlin, Hamburg, München, Köln
//! and Frankfurt come from the blocks the Bundesnetzagentur keeps free for films and
//! books ("Drama Numbers", e.g. 030 23125 000 to 999).

use crate::currency::Currency;
use crate::email::Email;
use crate::phone::Phone;
use crate::records::{
    ActivityKind, ActivityText, Address, LabeledEmail, LabeledPhone, PersonKind, PersonalData,
};
use jiff::ToSpan;
use jiff::civil::Date;
use rand::{Rng, RngCore};
use std::collections::BTreeSet;

/// How many records of each kind to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoSizes {
    pub persons: usize,
    pub organizations: usize,
    pub deals: usize,
    pub activities: usize,
}

impl DemoSizes {
    pub const DEFAULT: DemoSizes = DemoSizes {
        persons: 240,
        organizations: 60,
        deals: 120,
        activities: 1200,
    };
}

impl Default for DemoSizes {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DemoOrganization {
    pub name: String,
    pub address: Address,
    pub website: Option<String>,
    pub industry: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DemoPerson {
    pub kind: PersonKind,
    /// Index into [`DemoData::organizations`]; set exactly for business contacts.
    pub organization: Option<usize>,
    pub personal: PersonalData,
    pub tags: Vec<String>,
    pub source: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DemoDeal {
    pub title: String,
    pub value_cents: i64,
    pub currency: Currency,
    /// Key of a default stage: lead, qualified, proposal, negotiation, won or lost.
    pub stage: String,
    /// Index into [`DemoData::persons`].
    pub person: Option<usize>,
    /// Index into [`DemoData::organizations`].
    pub organization: Option<usize>,
    pub expected_close_date: Option<Date>,
    /// Set for lost deals only.
    pub lost_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DemoActivity {
    pub kind: ActivityKind,
    /// Index into [`DemoData::persons`].
    pub person: Option<usize>,
    /// Index into [`DemoData::organizations`].
    pub organization: Option<usize>,
    /// Index into [`DemoData::deals`].
    pub deal: Option<usize>,
    pub text: ActivityText,
    /// When it happened: 0..=365 days before `today`.
    pub days_ago: i64,
    /// Set for tasks only.
    pub due_date: Option<Date>,
    /// Tasks may be open; everything else has happened and is done.
    pub done: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct DemoData {
    pub organizations: Vec<DemoOrganization>,
    pub persons: Vec<DemoPerson>,
    pub deals: Vec<DemoDeal>,
    pub activities: Vec<DemoActivity>,
}

/// Generates demo data of the given sizes. `today` anchors all dates; `rng` is the only
/// source of randomness, so the same seed gives the same data.
pub fn generate(sizes: &DemoSizes, today: Date, rng: &mut dyn RngCore) -> DemoData {
    let mut g = Gen {
        rng,
        today,
        emails: BTreeSet::new(),
        phones: BTreeSet::new(),
        org_names: BTreeSet::new(),
        slugs: BTreeSet::new(),
    };
    let mut orgs = Vec::with_capacity(sizes.organizations);
    let mut org_meta = Vec::with_capacity(sizes.organizations);
    for i in 0..sizes.organizations {
        let (org, meta) = g.organization(i);
        orgs.push(org);
        org_meta.push(meta);
    }

    let mut persons = Vec::with_capacity(sizes.persons);
    let mut person_meta = Vec::with_capacity(sizes.persons);
    let mut next_unstaffed = 0;
    for _ in 0..sizes.persons {
        let (p, meta) = g.person(&org_meta, &mut next_unstaffed);
        persons.push(p);
        person_meta.push(meta);
    }

    let mut org_persons: Vec<Vec<usize>> = vec![Vec::new(); orgs.len()];
    let mut consumers = Vec::new();
    for (i, p) in persons.iter().enumerate() {
        match p.organization.and_then(|o| org_persons.get_mut(o)) {
            Some(list) => list.push(i),
            None => consumers.push(i),
        }
    }

    let mut deals = Vec::with_capacity(sizes.deals);
    for i in 0..sizes.deals {
        deals.push(g.deal(i, &org_persons, &consumers, &persons));
    }

    let mut person_deals: Vec<Vec<usize>> = vec![Vec::new(); persons.len()];
    let mut org_deals: Vec<Vec<usize>> = vec![Vec::new(); orgs.len()];
    for (i, d) in deals.iter().enumerate() {
        if let Some(list) = d.person.and_then(|p| person_deals.get_mut(p)) {
            list.push(i);
        }
        if let Some(list) = d.organization.and_then(|o| org_deals.get_mut(o)) {
            list.push(i);
        }
    }

    let links = Links {
        persons: &persons,
        person_meta: &person_meta,
        orgs: &orgs,
        deals: &deals,
        person_deals: &person_deals,
        org_deals: &org_deals,
    };
    let mut activities = Vec::with_capacity(sizes.activities);
    for i in 0..sizes.activities {
        activities.push(g.activity(i, &links));
    }

    DemoData {
        organizations: orgs,
        persons,
        deals,
        activities,
    }
}

// ---------------------------------------------------------------------------------------
// Word lists
// ---------------------------------------------------------------------------------------

const FEMALE_FIRST_NAMES: &[&str] = &[
    "Anna",
    "Maria",
    "Ursula",
    "Monika",
    "Petra",
    "Sabine",
    "Susanne",
    "Claudia",
    "Andrea",
    "Birgit",
    "Karin",
    "Renate",
    "Gisela",
    "Heike",
    "Katrin",
    "Julia",
    "Laura",
    "Lea",
    "Lena",
    "Hannah",
    "Sophie",
    "Marie",
    "Emma",
    "Mia",
    "Lisa",
    "Sarah",
    "Katharina",
    "Jana",
    "Franziska",
    "Käthe",
    "Jördis",
    "Bärbel",
    "Dörte",
    "Hülya",
    "Gülay",
    "Ayşe",
    "Elif",
    "Zeynep",
    "Agnieszka",
    "Anna-Lena",
    "Christiane",
    "Sieglinde",
    "Ingrid",
    "Nicole",
    "Stefanie",
    "Johanna",
    "Greta",
];

const MALE_FIRST_NAMES: &[&str] = &[
    "Jürgen",
    "Jörg",
    "Günter",
    "Björn",
    "Sören",
    "Uwe",
    "Klaus",
    "Thomas",
    "Michael",
    "Andreas",
    "Stefan",
    "Frank",
    "Peter",
    "Wolfgang",
    "Markus",
    "Christian",
    "Matthias",
    "Tobias",
    "Florian",
    "Sebastian",
    "Jan",
    "Lukas",
    "Felix",
    "Jonas",
    "Leon",
    "Maximilian",
    "Paul",
    "Niklas",
    "Tim",
    "Dirk",
    "Sven",
    "Ralf",
    "Holger",
    "Heiko",
    "Kai",
    "Mehmet",
    "Emre",
    "Ömer",
    "Can",
    "Mustafa",
    "Dariusz",
    "Hans-Peter",
    "Karl-Heinz",
    "Götz",
    "Lutz",
    "Torsten",
    "Henrik",
    "Moritz",
];

const LAST_NAMES: &[&str] = &[
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Schäfer",
    "Koch",
    "Bauer",
    "Richter",
    "Klein",
    "Wolf",
    "Schröder",
    "Neumann",
    "Schwarz",
    "Zimmermann",
    "Braun",
    "Krüger",
    "Hofmann",
    "Hartmann",
    "Lange",
    "Schmitt",
    "Werner",
    "Schmitz",
    "Krause",
    "Meier",
    "Lehmann",
    "Schulze",
    "Maier",
    "Köhler",
    "Herrmann",
    "König",
    "Walter",
    "Huber",
    "Kaiser",
    "Fuchs",
    "Peters",
    "Scholz",
    "Möller",
    "Weiß",
    "Jung",
    "Hahn",
    "Schubert",
    "Vogel",
    "Friedrich",
    "Keller",
    "Günther",
    "Berger",
    "Winkler",
    "Lorenz",
    "Baumann",
    "Böhm",
    "Krämer",
    "Jäger",
    "Groß",
    "Kühn",
    "Förster",
    "Strauß",
    "Brückner",
    "Süß",
    "Löffler",
    "Özdemir",
    "Yılmaz",
    "Şahin",
    "Kaya",
    "Demir",
    "Çelik",
    "Nowak",
    "Kowalski",
    "Wójcik",
    "Nguyen",
    "Dietrich",
    "Engel",
    "Pohl",
    "Vogt",
    "Sommer",
    "Seidel",
];

const TAGS: &[&str] = &[
    "messe",
    "newsletter-alt",
    "vip",
    "partner",
    "b2b",
    "empfehlung",
];
const CONSUMER_TAGS: &[&str] = &["messe", "newsletter-alt", "vip", "empfehlung"];

const PRIVATE_MAIL_DOMAINS: &[&str] = &[
    "mail.example",
    "post.example",
    "web.example",
    "mailbox.example",
    "posteingang.example",
];

const MOBILE_PREFIXES: &[&str] = &[
    "151", "152", "157", "159", "160", "162", "163", "170", "171", "172", "173", "174", "175",
    "176", "177", "178", "179",
];

struct City {
    name: &'static str,
    /// Adjective for company names ("Münchner Werkzeugbau AG").
    adjective: &'static str,
    plz: (u32, u32),
    /// Area code without the trunk 0.
    area: &'static str,
    /// Prefix of a Bundesnetzagentur block of fictional numbers (+ three digits).
    drama_block: Option<&'static str>,
    weight: u32,
}

const fn city(
    name: &'static str,
    adjective: &'static str,
    plz: (u32, u32),
    area: &'static str,
    drama_block: Option<&'static str>,
    weight: u32,
) -> City {
    City {
        name,
        adjective,
        plz,
        area,
        drama_block,
        weight,
    }
}

const CITIES: &[City] = &[
    city("Berlin", "Berliner", (10115, 14199), "30", Some("23125"), 8),
    city(
        "Hamburg",
        "Hamburger",
        (20095, 22769),
        "40",
        Some("66969"),
        6,
    ),
    city(
        "München",
        "Münchner",
        (80331, 81929),
        "89",
        Some("99998"),
        6,
    ),
    city("Köln", "Kölner", (50667, 51149), "221", Some("4710"), 5),
    city(
        "Frankfurt am Main",
        "Frankfurter",
        (60306, 60599),
        "69",
        Some("90009"),
        5,
    ),
    city("Leipzig", "Leipziger", (4103, 4357), "341", None, 3),
    city("Dresden", "Dresdner", (1067, 1328), "351", None, 2),
    city("Stuttgart", "Stuttgarter", (70173, 70629), "711", None, 3),
    city("Düsseldorf", "Düsseldorfer", (40210, 40629), "211", None, 3),
    city("Hannover", "Hannoversche", (30159, 30669), "511", None, 2),
    city("Nürnberg", "Nürnberger", (90402, 90491), "911", None, 2),
    city("Bremen", "Bremer", (28195, 28779), "421", None, 2),
    city("Dortmund", "Dortmunder", (44135, 44388), "231", None, 1),
    city("Münster", "Münsteraner", (48143, 48167), "251", None, 1),
    city(
        "Freiburg im Breisgau",
        "Freiburger",
        (79098, 79117),
        "761",
        None,
        1,
    ),
    city("Augsburg", "Augsburger", (86150, 86199), "821", None, 1),
    city("Kiel", "Kieler", (24103, 24159), "431", None, 1),
    city("Regensburg", "Regensburger", (93047, 93059), "941", None, 1),
];

const STREETS: &[&str] = &[
    "Hauptstraße",
    "Bahnhofstraße",
    "Gartenstraße",
    "Schulstraße",
    "Lindenstraße",
    "Bergstraße",
    "Kirchstraße",
    "Goethestraße",
    "Schillerstraße",
    "Mühlenweg",
    "Industriestraße",
    "Gewerbering",
    "Friedrichstraße",
    "Rosenweg",
    "Birkenweg",
    "Ringstraße",
    "Poststraße",
    "Am Markt",
    "Am Hafen",
    "Eichendorffstraße",
    "Wiesenweg",
    "Feldstraße",
    "Waldstraße",
    "Luisenstraße",
    "Uhlandstraße",
    "Mozartstraße",
    "Beethovenstraße",
    "Kastanienallee",
    "Lessingstraße",
    "Talstraße",
    "Gutenbergstraße",
    "Brückenstraße",
    "Im Gewerbepark",
    "Rathausplatz",
    "Jahnstraße",
    "Ahornweg",
    "Tulpenweg",
    "Königsweg",
    "Marienplatz",
    "Schlossstraße",
];

const PLACES: &[&str] = &[
    "Markt",
    "Rathaus",
    "Bahnhof",
    "Dom",
    "Stadtpark",
    "Rosenplatz",
];

/// Company name patterns: `{L}` and `{M}` are last names, `{A}` a city adjective, `{P}` a
/// square. Each comes with the industries it fits.
const ORG_TEMPLATES: &[(&str, &[&str])] = &[
    ("Bäckerei {L} GmbH", &["Lebensmittel", "Handwerk"]),
    ("Bäckerei {L}", &["Lebensmittel", "Handwerk"]),
    ("Fleischerei {L} e.K.", &["Lebensmittel", "Handwerk"]),
    ("{L} & Söhne KG", &["Handel", "Handwerk", "Maschinenbau"]),
    ("{L} Maschinenbau GmbH", &["Maschinenbau"]),
    ("{L} Präzisionstechnik GmbH", &["Maschinenbau"]),
    ("{A} Werkzeugbau AG", &["Maschinenbau"]),
    ("{L} Anlagenbau GmbH & Co. KG", &["Maschinenbau"]),
    ("{L} IT-Systemhaus GmbH", &["IT"]),
    ("{L} Software GmbH", &["IT"]),
    ("Datenwerk {L} UG (haftungsbeschränkt)", &["IT"]),
    ("Elektro {L} GmbH", &["Handwerk"]),
    ("Tischlerei {L}", &["Handwerk"]),
    ("Sanitär {L} GmbH & Co. KG", &["Handwerk"]),
    ("Dachdeckerei {L} GmbH", &["Handwerk", "Bau"]),
    ("Malerbetrieb {L}", &["Handwerk"]),
    ("Praxis Dr. {L}", &["Gesundheit"]),
    ("Zahnarztpraxis Dr. {L}", &["Gesundheit"]),
    ("Pflegedienst {L} GmbH", &["Gesundheit"]),
    ("Apotheke am {P}", &["Gesundheit", "Handel"]),
    ("{L} Logistik GmbH", &["Logistik"]),
    ("Spedition {L} GmbH & Co. KG", &["Logistik"]),
    ("{A} Kurierdienst GmbH", &["Logistik"]),
    ("Autohaus {L}", &["Handel"]),
    ("{L} Baustoffe GmbH", &["Handel", "Bau"]),
    ("Getränke {L} OHG", &["Handel", "Lebensmittel"]),
    ("{L} + {M} Steuerberater PartG mbB", &["Beratung"]),
    ("Kanzlei {L} & {M}", &["Beratung"]),
    ("{L} Unternehmensberatung GmbH", &["Beratung"]),
    ("{L} Immobilien GmbH", &["Immobilien"]),
    ("{L} Hausverwaltung GmbH", &["Immobilien"]),
    ("Landgasthof {L}", &["Gastronomie"]),
    ("Hotel {L} am {P}", &["Gastronomie"]),
    ("{L} Bau GmbH", &["Bau"]),
    ("{L} Druck & Medien GmbH", &["Medien"]),
    ("Solartechnik {L} GmbH", &["Energie", "Handwerk"]),
    ("{A} Gebäudereinigung GmbH", &["Dienstleistung"]),
];

/// Words left out of web and mail domains ("Müller & Söhne KG" → `mueller-soehne`).
const LEGAL_FORM_WORDS: &[&str] = &[
    "gmbh",
    "kg",
    "ag",
    "co",
    "ohg",
    "ug",
    "e",
    "k",
    "partg",
    "mbb",
    "haftungsbeschraenkt",
];

const SOURCES: &[&str] = &[
    "Messe Hannover {Y}",
    "Website-Formular",
    "Empfehlung",
    "Kaltakquise",
    "Newsletter-Anmeldung",
    "Bestandskunde",
    "Telefonische Anfrage",
    "Branchenverzeichnis",
];
const SOURCE_WEIGHTS: &[u32] = &[3, 5, 4, 3, 2, 3, 2, 1];

const PERSON_NOTES: &[&str] = &[
    "Bevorzugt Kontakt per E-Mail.",
    "Möchte nur vormittags angerufen werden.",
    "Legt großen Wert auf pünktliche Lieferung.",
    "Sehr preisbewusst, vergleicht immer mehrere Angebote.",
    "Langjähriger Kunde, zahlt stets pünktlich.",
    "Entscheidet gemeinsam mit dem Einkauf.",
    "Spricht auch Englisch und Türkisch.",
    "Ist im August meist im Urlaub.",
    "Auf der Messe am Stand kennengelernt.",
    "Hat uns an zwei Geschäftspartner weiterempfohlen.",
    "Rechnungen bitte ausschließlich als PDF per E-Mail.",
    "Zuständig für alle technischen Fragen.",
    "Interessiert sich für den Wartungsvertrag.",
    "Duzt sich mit unserem Vertrieb.",
];

const STAGES: [&str; 6] = [
    "lead",
    "qualified",
    "proposal",
    "negotiation",
    "won",
    "lost",
];
const STAGE_WEIGHTS: &[u32] = &[20, 17, 18, 12, 20, 13];

const B2B_DEAL_TITLES: &[&str] = &[
    "Wartungsvertrag {Y1}",
    "Neue CNC-Fräse",
    "Rahmenvertrag Ersatzteile {Y1}",
    "Softwarelizenzen für {N} Arbeitsplätze",
    "Website-Relaunch",
    "Server-Migration in die Cloud",
    "Umbau Produktionshalle",
    "Fuhrpark-Leasing {N} Fahrzeuge",
    "Schulung Datenschutz (DSGVO)",
    "Photovoltaikanlage Hallendach",
    "Jahresvertrag Gebäudereinigung",
    "Messestand Hannover {Y1}",
    "Einführung Warenwirtschaft",
    "Lagerregalsystem Halle 2",
    "IT-Supportvertrag {Y1}",
    "Druckerflotte erneuern",
    "Kühlzelle für das Lager",
    "Sommerfest für {N} Mitarbeitende",
    "Energieberatung Standort",
    "Austausch Heizungsanlage",
    "Sicherheitsaudit IT",
    "Verpackungsmaterial Nachbestellung",
    "Ladesäulen für den Firmenparkplatz",
    "Zweite Fertigungslinie",
];

const B2C_DEAL_TITLES: &[&str] = &[
    "Badsanierung",
    "Küchenmodernisierung",
    "Wärmepumpe Einfamilienhaus",
    "Photovoltaik mit Speicher",
    "Neue Fenster ({N} Stück)",
    "Dachsanierung",
    "Gartengestaltung",
    "Hochzeitsfeier mit {N} Gästen",
    "E-Bike-Leasing",
    "Einbauschrank nach Maß",
    "Wallbox-Installation",
    "Terrassenüberdachung",
];

const LOST_REASONS: &[&str] = &[
    "Preis zu hoch",
    "Zu einem Mitbewerber gewechselt",
    "Kein Budget mehr",
    "Projekt auf unbestimmte Zeit verschoben",
    "Keine Rückmeldung mehr",
    "Anforderungen nicht erfüllt",
    "Lieferzeit zu lang",
    "Intern anders entschieden",
];

/// Activity texts: (subject, body). `{name}` is "Herr Müller"/"Frau Weiß", `{deal}` a deal
/// title, `{firma}` a company name, `{kw}` a calendar week. Templates whose placeholders
/// cannot be filled are skipped.
const NOTE_TEXTS: &[(&str, Option<&str>)] = &[
    (
        "Gesprächsnotiz",
        Some(
            "{name} plant im nächsten Quartal neue Investitionen. Budget ist grundsätzlich vorhanden.",
        ),
    ),
    (
        "Interne Notiz",
        Some("Sehr zufrieden mit der letzten Lieferung. Als Referenzkunden anfragen?"),
    ),
    (
        "Notiz zu {deal}",
        Some(
            "Die Entscheidung fällt voraussichtlich in der Geschäftsführungssitzung Ende des Monats.",
        ),
    ),
    (
        "Kundenwunsch festgehalten",
        Some("Rechnungen künftig ausschließlich per E-Mail als PDF."),
    ),
    (
        "Erreichbarkeit",
        Some("Bitte nicht vor 10 Uhr anrufen, vormittags meist in der Werkstatt."),
    ),
    (
        "Wettbewerbssituation",
        Some("Liegt auch ein Angebot eines Mitbewerbers vor, etwa 10 % günstiger."),
    ),
    (
        "Neue Zuständigkeit bei {firma}",
        Some(
            "Der Einkauf wird ab sofort zentral gesteuert, {name} bleibt Ansprechpartner für Technik.",
        ),
    ),
    (
        "Zahlungsziel",
        Some("Skonto 2 % bei Zahlung innerhalb von 10 Tagen vereinbart."),
    ),
    ("Feedback zum Service", None),
];

const CALL_TEXTS: &[(&str, Option<&str>)] = &[
    (
        "Rückruf wegen Angebot",
        Some("{name} hatte Fragen zu Zahlungsbedingungen und Lieferzeit. Alles geklärt."),
    ),
    (
        "Erstgespräch",
        Some("Bedarf besprochen, Unterlagen werden per E-Mail nachgereicht."),
    ),
    (
        "Telefonat zu {deal}",
        Some("Preis wird als angemessen empfunden, die Freigabe durch den Einkauf steht noch aus."),
    ),
    ("Nicht erreicht", Some("Nur Mailbox, um Rückruf gebeten.")),
    (
        "Terminabstimmung",
        Some("Vor-Ort-Termin für nächste Woche vereinbart."),
    ),
    (
        "Reklamation besprochen",
        Some("Lieferung war unvollständig, Nachlieferung bis Freitag zugesagt."),
    ),
    (
        "Kurze Rückfrage von {name}",
        Some("Wollte wissen, ob die Ware bis KW {kw} geliefert werden kann."),
    ),
    (
        "Nachfassen {deal}",
        Some("Angebot liegt vor, Entscheidung nach der Budgetrunde."),
    ),
];

const MEETING_TEXTS: &[(&str, Option<&str>)] = &[
    (
        "Vor-Ort-Termin",
        Some("Räumlichkeiten besichtigt und Maße aufgenommen. Angebot folgt bis Ende der Woche."),
    ),
    (
        "Präsentation {deal}",
        Some(
            "Präsentation vor Geschäftsführung und Technik. Positive Resonanz, offen sind noch Wartung und Schulung.",
        ),
    ),
    (
        "Jahresgespräch mit {firma}",
        Some(
            "Zusammenarbeit im vergangenen Jahr ausgewertet und Ziele für das kommende Jahr festgelegt.",
        ),
    ),
    (
        "Videokonferenz",
        Some("Kurze Abstimmung zum Projektstand mit {name}. Nächster Termin in zwei Wochen."),
    ),
    (
        "Messegespräch",
        Some("Am Stand kennengelernt, großes Interesse an unserem Serviceangebot."),
    ),
    (
        "Kick-off {deal}",
        Some("Projektplan abgestimmt, Ansprechpartner auf beiden Seiten benannt."),
    ),
    ("Mittagessen mit {name}", None),
];

const EMAIL_TEXTS: &[(&str, Option<&str>)] = &[
    (
        "Angebot versendet",
        Some("Angebot zu {deal} als PDF verschickt, gültig für 30 Tage."),
    ),
    (
        "Unterlagen angefordert",
        Some("Bitte um Produktdatenblätter und eine Referenzliste."),
    ),
    (
        "Auftragsbestätigung {deal}",
        Some("Auftrag bestätigt, Liefertermin KW {kw}."),
    ),
    (
        "Terminbestätigung",
        Some("Termin am Dienstag um 14 Uhr bestätigt."),
    ),
    (
        "Rückfrage zur Rechnung",
        Some("{name} bittet um Korrektur der Rechnungsanschrift."),
    ),
    (
        "Newsletter abbestellt",
        Some("Möchte keinen Newsletter mehr erhalten, Abmeldung erledigt."),
    ),
    (
        "Preisanfrage",
        Some("Anfrage nach Staffelpreisen ab 100 Stück."),
    ),
    ("Dankeschön für das Gespräch", None),
];

const TASK_TEXTS: &[(&str, Option<&str>)] = &[
    (
        "Angebot nachfassen",
        Some("Nachfragen, ob das Angebot zu {deal} angekommen ist."),
    ),
    (
        "Rückruf {name}",
        Some("Rückruf wegen offener Fragen zum Angebot."),
    ),
    ("Vertrag zur Unterschrift senden", None),
    (
        "Unterlagen zusammenstellen",
        Some("Referenzen und Zertifikate für die Ausschreibung sammeln."),
    ),
    (
        "Termin vereinbaren",
        Some("Vor-Ort-Termin mit {name} abstimmen."),
    ),
    (
        "Zahlungseingang prüfen",
        Some("Bei Bedarf freundliche Zahlungserinnerung schicken."),
    ),
    ("Angebot für {firma} erstellen", None),
    ("Weihnachtskarte schicken", None),
];

const KIND_WEIGHTS: &[u32] = &[20, 25, 15, 25, 15];

// ---------------------------------------------------------------------------------------
// Generator
// ---------------------------------------------------------------------------------------

struct Gen<'r> {
    rng: &'r mut dyn RngCore,
    today: Date,
    /// Normalized addresses and numbers handed out so far: demo contacts do not share
    /// them, so duplicate detection stays quiet.
    emails: BTreeSet<String>,
    phones: BTreeSet<String>,
    org_names: BTreeSet<String>,
    slugs: BTreeSet<String>,
}

struct OrgMeta {
    slug: String,
    city: &'static City,
}

struct PersonMeta {
    female: bool,
}

struct Links<'a> {
    persons: &'a [DemoPerson],
    person_meta: &'a [PersonMeta],
    orgs: &'a [DemoOrganization],
    deals: &'a [DemoDeal],
    person_deals: &'a [Vec<usize>],
    org_deals: &'a [Vec<usize>],
}

impl Gen<'_> {
    fn chance(&mut self, p: f64) -> bool {
        self.rng.gen_bool(p)
    }

    fn index(&mut self, len: usize) -> Option<usize> {
        (len > 0).then(|| self.rng.gen_range(0..len))
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> Option<T> {
        self.index(items.len()).and_then(|i| items.get(i).copied())
    }

    fn pick_str(&mut self, items: &[&'static str]) -> &'static str {
        self.pick(items).unwrap_or_default()
    }

    /// An index drawn with the given weights.
    fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        if total == 0 {
            return 0;
        }
        let mut x = self.rng.gen_range(0..total);
        for (i, &w) in weights.iter().enumerate() {
            if x < w {
                return i;
            }
            x -= w;
        }
        0
    }

    fn city(&mut self) -> &'static City {
        let weights: Vec<u32> = CITIES.iter().map(|c| c.weight).collect();
        let i = self.weighted(&weights);
        CITIES.get(i).unwrap_or(&CITIES[0])
    }

    fn days_from_today(&self, days: i64) -> Option<Date> {
        self.today.checked_add(days.days()).ok()
    }

    fn year(&self) -> i16 {
        self.today.year()
    }

    fn address(&mut self, city: &City) -> Address {
        let street = self.pick_str(STREETS);
        let number: u32 = self.rng.gen_range(1..=140);
        let suffix = if self.chance(0.08) {
            self.pick_str(&["a", "b", "c"])
        } else {
            ""
        };
        let plz = self.rng.gen_range(city.plz.0..=city.plz.1);
        Address {
            street: Some(format!("{street} {number}{suffix}")),
            postal_code: Some(format!("{plz:05}")),
            city: Some(city.name.to_string()),
            country: Some("DE".to_string()),
        }
    }

    fn unique_phone(&mut self, mut make: impl FnMut(&mut Self) -> String) -> Option<Phone> {
        for _ in 0..40 {
            let raw = make(self);
            if let Ok(phone) = Phone::parse(&raw)
                && self.phones.insert(phone.as_str().to_string())
            {
                return Some(phone);
            }
        }
        None
    }

    /// A landline number in `city`: from the fictional block where there is one.
    fn landline(&mut self, city: &City) -> Option<Phone> {
        self.unique_phone(|g| match city.drama_block {
            Some(block) => format!(
                "+49 {} {}-{:03}",
                city.area,
                block,
                g.rng.gen_range(0..1000)
            ),
            None => format!(
                "+49 {} {}",
                city.area,
                g.rng.gen_range(2_000_000..=9_999_999)
            ),
        })
    }

    fn mobile(&mut self) -> Option<Phone> {
        self.unique_phone(|g| {
            let prefix = g.pick_str(MOBILE_PREFIXES);
            if prefix.starts_with("15") {
                format!("+49 {prefix} {}", g.rng.gen_range(10_000_000..=99_999_999))
            } else {
                format!("+49 {prefix} {}", g.rng.gen_range(1_000_000..=9_999_999))
            }
        })
    }

    /// `local@domain`, or with a number appended if that address is taken.
    fn unique_email(&mut self, local: &str, domain: &str) -> Option<Email> {
        for attempt in 0..40 {
            let candidate = if attempt == 0 {
                format!("{local}@{domain}")
            } else {
                format!("{local}{}@{domain}", self.rng.gen_range(2..=999))
            };
            if let Ok(email) = Email::parse(&candidate)
                && self.emails.insert(email.normalized())
            {
                return Some(email);
            }
        }
        None
    }

    fn organization(&mut self, index: usize) -> (DemoOrganization, OrgMeta) {
        let mut found = None;
        for _ in 0..30 {
            let city = self.city();
            let (pattern, industries) = self.pick(ORG_TEMPLATES).unwrap_or(("{L} GmbH", &[]));
            let first = self.pick_str(LAST_NAMES);
            let mut second = self.pick_str(LAST_NAMES);
            if second == first {
                second = self.pick_str(LAST_NAMES);
            }
            let place = self.pick_str(PLACES);
            let name = pattern
                .replace("{L}", first)
                .replace("{M}", second)
                .replace("{A}", city.adjective)
                .replace("{P}", place);
            let slug = domain_slug(&name);
            if !self.org_names.contains(&name) && !self.slugs.contains(&slug) {
                found = Some((name, slug, city, industries));
                break;
            }
        }
        let (name, slug, city, industries) = found.unwrap_or_else(|| {
            let city = self.city();
            let name = format!("{} Handelsgesellschaft {} mbH", city.adjective, index + 1);
            let slug = domain_slug(&name);
            (name, slug, city, &["Handel"][..])
        });
        self.org_names.insert(name.clone());
        self.slugs.insert(slug.clone());

        let industry = if self.chance(0.9) {
            self.pick(industries).map(str::to_string)
        } else {
            None
        };
        let website = self.chance(0.8).then(|| format!("https://{slug}.example"));
        let org = DemoOrganization {
            name,
            address: self.address(city),
            website,
            industry,
        };
        (org, OrgMeta { slug, city })
    }

    fn person(&mut self, orgs: &[OrgMeta], next_unstaffed: &mut usize) -> (DemoPerson, PersonMeta) {
        let female = self.chance(0.5);
        let first_name = self.pick_str(if female {
            FEMALE_FIRST_NAMES
        } else {
            MALE_FIRST_NAMES
        });
        let last_name = if self.chance(0.04) {
            let a = self.pick_str(LAST_NAMES);
            let b = self.pick_str(LAST_NAMES);
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        } else {
            self.pick_str(LAST_NAMES).to_string()
        };
        let first = ascii_slug(first_name);
        let last = ascii_slug(&last_name);
        let initial: String = first.chars().take(1).collect();

        let organization = if !orgs.is_empty() && self.chance(0.6) {
            if *next_unstaffed < orgs.len() {
                *next_unstaffed += 1;
                Some(*next_unstaffed - 1)
            } else {
                self.index(orgs.len())
            }
        } else {
            None
        };
        let org = organization.and_then(|i| orgs.get(i));

        let mut emails = Vec::new();
        let mut phones = Vec::new();
        let mut address = None;
        let kind;
        let home_city;
        if let Some(org) = org {
            kind = PersonKind::Business;
            home_city = if self.chance(0.7) {
                org.city
            } else {
                self.city()
            };
            if self.chance(0.92) {
                let local = match self.weighted(&[6, 3, 1]) {
                    0 => format!("{first}.{last}"),
                    1 => format!("{initial}.{last}"),
                    _ => last.clone(),
                };
                if let Some(e) = self.unique_email(&local, &format!("{}.example", org.slug)) {
                    emails.push(labeled_email("work", e));
                }
            }
            if self.chance(0.78)
                && let Some(p) = self.landline(org.city)
            {
                phones.push(labeled_phone("work", p));
            }
            if self.chance(0.15) {
                address = Some(self.address(home_city));
            }
        } else {
            kind = PersonKind::Consumer;
            home_city = self.city();
            if self.chance(0.7) {
                address = Some(self.address(home_city));
            }
        }
        let private_email_chance = if org.is_some() { 0.15 } else { 0.85 };
        if self.chance(private_email_chance) {
            self.push_private_email(&mut emails, &first, &last, &initial);
            if org.is_none() && self.chance(0.12) {
                self.push_private_email(&mut emails, &first, &last, &initial);
            }
        }
        let (landline_chance, mobile_chance) = if org.is_some() {
            (0.05, 0.45)
        } else {
            (0.45, 0.65)
        };
        if self.chance(landline_chance)
            && let Some(p) = self.landline(home_city)
        {
            phones.push(labeled_phone("private", p));
        }
        if self.chance(mobile_chance)
            && let Some(p) = self.mobile()
        {
            phones.push(labeled_phone("mobile", p));
        }

        let birthday = if self.chance(0.3) {
            let year = self.year() - self.rng.gen_range(19..=78);
            let month = self.rng.gen_range(1..=12);
            let day = self.rng.gen_range(1..=28);
            Date::new(year, month, day).ok()
        } else {
            None
        };
        let notes = if self.chance(0.25) {
            let a = self.pick_str(PERSON_NOTES);
            let b = self.pick_str(PERSON_NOTES);
            Some(if a != b && self.chance(0.4) {
                format!("{a} {b}")
            } else {
                a.to_string()
            })
        } else {
            None
        };

        let tag_pool = if org.is_some() { TAGS } else { CONSUMER_TAGS };
        let tag_count = self.weighted(&[50, 35, 15]);
        let mut tags: Vec<String> = Vec::new();
        for _ in 0..tag_count * 3 {
            if tags.len() >= tag_count {
                break;
            }
            let t = self.pick_str(tag_pool);
            if !tags.iter().any(|x| x == t) {
                tags.push(t.to_string());
            }
        }
        let source = if self.chance(0.8) {
            let i = self.weighted(SOURCE_WEIGHTS);
            SOURCES
                .get(i)
                .map(|s| s.replace("{Y}", &self.year().to_string()))
        } else {
            None
        };

        let personal = PersonalData {
            first_name: first_name.to_string(),
            last_name,
            emails,
            phones,
            address,
            birthday,
            notes,
            ..PersonalData::default()
        };
        let person = DemoPerson {
            kind,
            organization,
            personal,
            tags,
            source,
        };
        (person, PersonMeta { female })
    }

    fn push_private_email(
        &mut self,
        emails: &mut Vec<LabeledEmail>,
        first: &str,
        last: &str,
        initial: &str,
    ) {
        let yy = self.rng.gen_range(50..=99);
        let local = match self.weighted(&[4, 3, 2, 1]) {
            0 => format!("{first}.{last}"),
            1 => format!("{first}.{last}{yy}"),
            2 => format!("{initial}{last}"),
            _ => format!("{last}.{first}"),
        };
        let domain = self.pick_str(PRIVATE_MAIL_DOMAINS);
        if let Some(e) = self.unique_email(&local, domain) {
            emails.push(labeled_email("private", e));
        }
    }

    fn deal(
        &mut self,
        index: usize,
        org_persons: &[Vec<usize>],
        consumers: &[usize],
        persons: &[DemoPerson],
    ) -> DemoDeal {
        let staffed: Vec<usize> = (0..org_persons.len())
            .filter(|&o| org_persons.get(o).is_some_and(|p| !p.is_empty()))
            .collect();
        let b2b = !org_persons.is_empty() && (consumers.is_empty() || self.chance(0.75));
        let (person, organization) = if b2b {
            let org = if staffed.is_empty() || self.chance(0.05) {
                self.index(org_persons.len())
            } else {
                self.pick(&staffed)
            };
            let person = org
                .and_then(|o| org_persons.get(o))
                .and_then(|members| self.pick(members));
            (person, org)
        } else {
            let person = self.pick(consumers).or_else(|| self.index(persons.len()));
            (
                person,
                person
                    .and_then(|p| persons.get(p))
                    .and_then(|p| p.organization),
            )
        };
        let business = organization.is_some();

        let stage_index = if index < STAGES.len() {
            index
        } else {
            self.weighted(STAGE_WEIGHTS)
        };
        let stage = STAGES.get(stage_index).copied().unwrap_or("lead");

        let template = self.pick_str(if business {
            B2B_DEAL_TITLES
        } else {
            B2C_DEAL_TITLES
        });
        let n = if business {
            self.pick(&[5u32, 10, 12, 20, 25, 40, 50, 80, 120])
                .unwrap_or(10)
        } else {
            self.rng.gen_range(4..=12)
        };
        let title = template
            .replace("{Y1}", &(self.year() + 1).to_string())
            .replace("{N}", &n.to_string());

        let euros: i64 = if business {
            match self.weighted(&[4, 4, 2]) {
                0 => self.rng.gen_range(500..=5_000),
                1 => self.rng.gen_range(5_000..=50_000),
                _ => self.rng.gen_range(50_000..=250_000),
            }
        } else {
            self.rng.gen_range(500..=60_000)
        };
        let euros = (euros / 50 * 50).clamp(500, 250_000);
        let value_cents = euros * 100;

        let currency = if business && self.chance(0.07) {
            Currency::parse("CHF").unwrap_or(Currency::EUR)
        } else {
            Currency::EUR
        };

        let expected_close_date = if self.chance(0.9) {
            let days = match stage {
                "won" | "lost" => -self.rng.gen_range(1..=300),
                _ if self.chance(0.1) => -self.rng.gen_range(1..=30),
                _ => self.rng.gen_range(5..=200),
            };
            self.days_from_today(days)
        } else {
            None
        };
        let lost_reason = (stage == "lost").then(|| self.pick_str(LOST_REASONS).to_string());

        DemoDeal {
            title,
            value_cents,
            currency,
            stage: stage.to_string(),
            person,
            organization,
            expected_close_date,
            lost_reason,
        }
    }

    fn activity(&mut self, index: usize, links: &Links<'_>) -> DemoActivity {
        let kind = match ActivityKind::ALL.get(index) {
            Some(&k) => k,
            None => {
                let i = self.weighted(KIND_WEIGHTS);
                ActivityKind::ALL
                    .get(i)
                    .copied()
                    .unwrap_or(ActivityKind::Note)
            }
        };

        // Who the activity concerns: mostly a person, often through one of their deals,
        // sometimes only an organization.
        let r: f64 = self.rng.r#gen();
        let (person, organization, deal) = if r < 0.35 && !links.deals.is_empty() {
            let deal = self.index(links.deals.len());
            let d = deal.and_then(|i| links.deals.get(i));
            (
                d.and_then(|d| d.person),
                d.and_then(|d| d.organization),
                deal,
            )
        } else if (r < 0.93 || links.orgs.is_empty()) && !links.persons.is_empty() {
            let person = self.index(links.persons.len());
            let org = person
                .and_then(|p| links.persons.get(p))
                .and_then(|p| p.organization);
            let org = if self.chance(0.85) { org } else { None };
            let deal = if self.chance(0.4) {
                person
                    .and_then(|p| links.person_deals.get(p))
                    .and_then(|ds| self.pick(ds))
            } else {
                None
            };
            (person, org, deal)
        } else {
            let org = self.index(links.orgs.len());
            let deal = if self.chance(0.3) {
                org.and_then(|o| links.org_deals.get(o))
                    .and_then(|ds| self.pick(ds))
            } else {
                None
            };
            (None, org, deal)
        };

        let name = person.and_then(|p| {
            let data = &links.persons.get(p)?.personal;
            let female = links.person_meta.get(p)?.female;
            Some(format!(
                "{} {}",
                if female { "Frau" } else { "Herr" },
                data.last_name
            ))
        });
        let firma = organization
            .and_then(|o| links.orgs.get(o))
            .map(|o| o.name.clone());
        let deal_title = deal
            .and_then(|d| links.deals.get(d))
            .map(|d| d.title.clone());
        let ctx = TextContext {
            name,
            firma,
            deal: deal_title,
            kw: self.rng.gen_range(1..=52),
        };
        let texts = match kind {
            ActivityKind::Note => NOTE_TEXTS,
            ActivityKind::Call => CALL_TEXTS,
            ActivityKind::Meeting => MEETING_TEXTS,
            ActivityKind::Email => EMAIL_TEXTS,
            ActivityKind::Task => TASK_TEXTS,
        };
        let usable: Vec<(&str, Option<&str>)> = texts
            .iter()
            .copied()
            .filter(|(s, b)| ctx.can_fill(s) && b.is_none_or(|b| ctx.can_fill(b)))
            .collect();
        let (subject, body) = self.pick(&usable).unwrap_or(("Notiz", None));
        let body = body.filter(|_| self.chance(0.85)).map(|b| ctx.fill(b));
        let text = ActivityText {
            subject: ctx.fill(subject),
            body,
        };

        // Skewed towards the recent past.
        let a = self.rng.gen_range(0..=365);
        let b = self.rng.gen_range(0..=365);
        let days_ago: i64 = a.min(b);

        let (due_date, done) = if kind == ActivityKind::Task {
            let due_days_ago = days_ago - self.rng.gen_range(1..=21);
            let done = if due_days_ago <= 0 {
                self.chance(0.1)
            } else {
                self.chance(0.8)
            };
            (self.days_from_today(-due_days_ago), done)
        } else {
            (None, true)
        };

        DemoActivity {
            kind,
            person,
            organization,
            deal,
            text,
            days_ago,
            due_date,
            done,
        }
    }
}

struct TextContext {
    name: Option<String>,
    firma: Option<String>,
    deal: Option<String>,
    kw: u32,
}

impl TextContext {
    fn can_fill(&self, template: &str) -> bool {
        (!template.contains("{name}") || self.name.is_some())
            && (!template.contains("{firma}") || self.firma.is_some())
            && (!template.contains("{deal}") || self.deal.is_some())
    }

    fn fill(&self, template: &str) -> String {
        template
            .replace("{name}", self.name.as_deref().unwrap_or_default())
            .replace("{firma}", self.firma.as_deref().unwrap_or_default())
            .replace("{deal}", self.deal.as_deref().unwrap_or_default())
            .replace("{kw}", &self.kw.to_string())
    }
}

fn labeled_email(label: &str, value: Email) -> LabeledEmail {
    LabeledEmail {
        label: label.to_string(),
        value,
    }
}

fn labeled_phone(label: &str, value: Phone) -> LabeledPhone {
    LabeledPhone {
        label: label.to_string(),
        value,
    }
}

/// Lower-case ASCII letters, digits and single dashes: "Jürgen" → `juergen`,
/// "Müller & Söhne" → `mueller-soehne`, "Yılmaz" → `yilmaz`.
fn ascii_slug(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let mapped = match c {
            'ä' | 'Ä' => "ae",
            'ö' | 'Ö' => "oe",
            'ü' | 'Ü' => "ue",
            'ß' => "ss",
            'á' | 'à' | 'â' | 'ą' => "a",
            'é' | 'è' | 'ê' | 'ę' => "e",
            'ı' | 'İ' | 'í' => "i",
            'ó' | 'ò' | 'ô' => "o",
            'ç' | 'Ç' | 'ć' | 'č' => "c",
            'ş' | 'Ş' | 'ś' | 'š' => "s",
            'ğ' => "g",
            'ł' | 'Ł' => "l",
            'ń' | 'ñ' => "n",
            'ż' | 'ź' | 'ž' => "z",
            _ => "",
        };
        if !mapped.is_empty() {
            out.push_str(mapped);
        } else if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        "kontakt".to_string()
    } else {
        out
    }
}

/// A domain label for a company: its name without legal form, at most 50 characters.
fn domain_slug(name: &str) -> String {
    let slug = ascii_slug(name);
    let words: Vec<&str> = slug
        .split('-')
        .filter(|w| !w.is_empty() && !LEGAL_FORM_WORDS.contains(w))
        .collect();
    let mut out = if words.is_empty() {
        slug.clone()
    } else {
        words.join("-")
    };
    out.truncate(50);
    while out.ends_with('-') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{parse_country, parse_tag, parse_website};
    use crate::text::{bounded, limits, required_line};
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn today() -> Date {
        Date::new(2026, 5, 14).unwrap()
    }

    fn data(seed: u64) -> DemoData {
        generate(
            &DemoSizes::DEFAULT,
            today(),
            &mut StdRng::seed_from_u64(seed),
        )
    }

    #[test]
    fn default_sizes_give_a_full_crm() {
        let d = data(1);
        assert!(d.persons.len() >= 200);
        assert!(d.organizations.len() >= 50);
        assert!(d.deals.len() >= 100);
        assert!(d.activities.len() >= 1000);
        let stages: BTreeSet<&str> = d.deals.iter().map(|x| x.stage.as_str()).collect();
        assert!(stages.len() >= 5, "{stages:?}");
        assert!(stages.iter().all(|s| STAGES.contains(s)));
        let kinds: BTreeSet<&str> = d.activities.iter().map(|a| a.kind.as_str()).collect();
        assert_eq!(kinds.len(), 5, "{kinds:?}");

        let business = d
            .persons
            .iter()
            .filter(|p| p.kind == PersonKind::Business)
            .count();
        assert!(
            (100..=190).contains(&business),
            "{business} business persons"
        );
        assert!(
            d.persons
                .iter()
                .any(|p| p.personal.emails.len() >= 2 || p.personal.phones.len() >= 2)
        );
        assert!(d.persons.iter().any(|p| p.personal.birthday.is_some()));
        assert!(d.persons.iter().any(|p| p.personal.notes.is_some()));
        assert!(d.persons.iter().any(|p| p.personal.address.is_some()));
        assert!(d.persons.iter().any(|p| !p.tags.is_empty()));
        assert!(d.deals.iter().any(|x| x.currency.as_str() == "CHF"));
        let eur = d
            .deals
            .iter()
            .filter(|x| x.currency == Currency::EUR)
            .count();
        assert!(eur * 10 >= d.deals.len() * 8);
        let names: BTreeSet<&str> = d.organizations.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(
            names.len(),
            d.organizations.len(),
            "organization names are unique"
        );
    }

    #[test]
    fn indices_point_into_the_generated_lists() {
        let d = data(2);
        for p in &d.persons {
            assert_eq!(p.organization.is_some(), p.kind == PersonKind::Business);
            assert!(p.organization.is_none_or(|o| o < d.organizations.len()));
        }
        for deal in &d.deals {
            assert!(deal.person.is_none_or(|p| p < d.persons.len()));
            assert!(deal.organization.is_none_or(|o| o < d.organizations.len()));
            if let (Some(p), Some(o)) = (deal.person, deal.organization) {
                assert_eq!(d.persons[p].organization, Some(o));
            }
        }
        let mut with_person = 0;
        for a in &d.activities {
            assert!(a.person.is_none_or(|p| p < d.persons.len()));
            assert!(a.organization.is_none_or(|o| o < d.organizations.len()));
            assert!(a.deal.is_none_or(|x| x < d.deals.len()));
            assert!(a.person.is_some() || a.organization.is_some());
            with_person += usize::from(a.person.is_some());
        }
        assert!(
            with_person * 10 >= d.activities.len() * 8,
            "activities mostly concern a person"
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_data() {
        let a = data(7);
        let b = data(7);
        assert_eq!(
            a.persons[0].personal.first_name,
            b.persons[0].personal.first_name
        );
        assert_eq!(a.organizations[3].name, b.organizations[3].name);
        assert_eq!(a.deals[10].value_cents, b.deals[10].value_cents);
        assert_eq!(a.activities[500].text, b.activities[500].text);
        assert_eq!(a, b);
        assert_ne!(a, data(8));
    }

    #[test]
    fn every_value_passes_the_domain_parsers() {
        for seed in 0..8 {
            let d = data(seed);
            let mut emails = BTreeSet::new();
            let mut phones = BTreeSet::new();
            for o in &d.organizations {
                assert_eq!(required_line(&o.name, limits::NAME).unwrap(), o.name);
                if let Some(w) = &o.website {
                    assert_eq!(&parse_website(w).unwrap(), w);
                    assert!(w.starts_with("https://") && w.ends_with(".example"), "{w}");
                }
                if let Some(i) = &o.industry {
                    required_line(i, limits::LINE).unwrap();
                }
                check_address(&o.address);
            }
            for p in &d.persons {
                let pd = &p.personal;
                assert_eq!(
                    required_line(&pd.first_name, limits::NAME).unwrap(),
                    pd.first_name
                );
                assert_eq!(
                    required_line(&pd.last_name, limits::NAME).unwrap(),
                    pd.last_name
                );
                assert!(
                    pd.emails.len() <= limits::MAX_CONTACTS
                        && pd.phones.len() <= limits::MAX_CONTACTS
                );
                for e in &pd.emails {
                    assert!(["work", "private"].contains(&e.label.as_str()));
                    assert_eq!(Email::parse(e.value.as_str()).unwrap(), e.value);
                    let (local, domain) = e.value.as_str().split_once('@').unwrap();
                    assert!(
                        local.is_ascii() && domain.ends_with(".example"),
                        "{}",
                        e.value
                    );
                    assert!(emails.insert(e.value.normalized()), "duplicate {}", e.value);
                }
                for ph in &pd.phones {
                    assert!(["work", "private", "mobile"].contains(&ph.label.as_str()));
                    assert_eq!(Phone::parse(ph.value.as_str()).unwrap(), ph.value);
                    assert!(ph.value.as_str().starts_with("+49"), "{}", ph.value);
                    assert!(
                        phones.insert(ph.value.as_str().to_string()),
                        "duplicate {}",
                        ph.value
                    );
                }
                if let Some(a) = &pd.address {
                    check_address(a);
                }
                if let Some(n) = &pd.notes {
                    bounded(n, limits::NOTES).unwrap();
                }
                if let Some(b) = pd.birthday {
                    assert!(b < today());
                }
                assert!(p.tags.len() <= limits::MAX_TAGS);
                for t in &p.tags {
                    assert_eq!(&parse_tag(t).unwrap(), t);
                    assert!(TAGS.contains(&t.as_str()));
                }
                if let Some(s) = &p.source {
                    required_line(s, limits::LINE).unwrap();
                }
            }
            for deal in &d.deals {
                assert_eq!(
                    required_line(&deal.title, limits::LINE).unwrap(),
                    deal.title
                );
                assert!(
                    (50_000..=25_000_000).contains(&deal.value_cents),
                    "{}",
                    deal.value_cents
                );
                assert!(["EUR", "CHF"].contains(&deal.currency.as_str()));
                assert_eq!(deal.lost_reason.is_some(), deal.stage == "lost");
                if let Some(r) = &deal.lost_reason {
                    required_line(r, limits::LINE).unwrap();
                }
            }
            for a in &d.activities {
                assert_eq!(
                    required_line(&a.text.subject, limits::LINE).unwrap(),
                    a.text.subject
                );
                assert!(!a.text.subject.contains('{'), "{}", a.text.subject);
                if let Some(b) = &a.text.body {
                    assert_eq!(&bounded(b, limits::BODY).unwrap(), b);
                    assert!(!b.contains('{'), "{b}");
                }
                assert!((0..=365).contains(&a.days_ago));
                assert_eq!(a.due_date.is_some(), a.kind == ActivityKind::Task);
                if a.kind != ActivityKind::Task {
                    assert!(a.done);
                }
            }
        }
    }

    fn check_address(a: &Address) {
        required_line(a.street.as_deref().unwrap(), limits::LINE).unwrap();
        required_line(a.city.as_deref().unwrap(), limits::LINE).unwrap();
        let plz = a.postal_code.as_deref().unwrap();
        assert!(
            plz.len() == 5 && plz.chars().all(|c| c.is_ascii_digit()),
            "{plz}"
        );
        assert_eq!(parse_country(a.country.as_deref().unwrap()).unwrap(), "DE");
    }

    #[test]
    fn small_and_empty_sizes_work() {
        let mut rng = StdRng::seed_from_u64(3);
        let empty = DemoSizes {
            persons: 0,
            organizations: 0,
            deals: 0,
            activities: 0,
        };
        assert_eq!(generate(&empty, today(), &mut rng), DemoData::default());

        let no_orgs = DemoSizes {
            persons: 5,
            organizations: 0,
            deals: 8,
            activities: 20,
        };
        let d = generate(&no_orgs, today(), &mut rng);
        assert!(d.persons.iter().all(|p| p.kind == PersonKind::Consumer));
        assert!(
            d.deals
                .iter()
                .all(|x| x.person.is_some() && x.organization.is_none())
        );

        let nobody = DemoSizes {
            persons: 0,
            organizations: 0,
            deals: 3,
            activities: 5,
        };
        let d = generate(&nobody, today(), &mut rng);
        assert_eq!(d.deals.len(), 3);
        assert_eq!(d.activities.len(), 5);
    }

    #[test]
    fn names_become_ascii_domains() {
        assert_eq!(ascii_slug("Jürgen"), "juergen");
        assert_eq!(ascii_slug("Yılmaz"), "yilmaz");
        assert_eq!(domain_slug("Müller & Söhne KG"), "mueller-soehne");
        assert_eq!(domain_slug("Bäckerei Schulze GmbH"), "baeckerei-schulze");
        assert_eq!(
            domain_slug("Datenwerk Weiß UG (haftungsbeschränkt)"),
            "datenwerk-weiss"
        );
        assert_eq!(domain_slug("Sanitär Groß GmbH & Co. KG"), "sanitaer-gross");
    }
}
