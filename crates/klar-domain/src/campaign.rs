//! Email campaigns: who is in a segment, what a template may say, and the footer the law
//! puts under every advertising mail (LAW.md table 2e).
//!
//! Templates are plain text with `{{placeholder}}` fields from a fixed list. There is no
//! expression, loop or markup: a template can neither run code nor smuggle HTML into the
//! mail, and a value from a person's record is always inserted as text.

use crate::error::{DomainError, Errors, ValueError};
use crate::policy::{Channel, Purpose};
use crate::text::required_line;
use std::collections::BTreeMap;

pub mod limits {
    pub const NAME: usize = 200;
    pub const SUBJECT: usize = 200;
    pub const BODY: usize = 50_000;
    pub const TAGS: usize = 20;
    pub const CUSTOM: usize = 20;
}

/// The language of a campaign's mail, its footer and its pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Locale {
    De,
    En,
}

impl Locale {
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        match s.trim() {
            "de" => Ok(Self::De),
            "en" => Ok(Self::En),
            _ => Err(ValueError::new("must be de or en")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::De => "de",
            Self::En => "en",
        }
    }

    fn pick<'a>(self, de: &'a str, en: &'a str) -> &'a str {
        match self {
            Self::De => de,
            Self::En => en,
        }
    }
}

// ----------------------------------------------------------------------------------------
// Segments

/// A segment as sent by a client: every criterion given must hold (AND). `{"all": true}`
/// selects every person; an empty object is refused, so nobody mails everyone by mistake.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentDraft {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    /// A stage key of the default pipeline: persons with an open or closed deal in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deal_stage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    /// Person custom field values, by field key; a value matches when equal.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom: BTreeMap<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all: bool,
}

/// A checked segment. Tags are kept as given (the store compares them normalised).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Segment {
    pub tags: Vec<String>,
    pub organization_id: Option<String>,
    pub deal_stage: Option<String>,
    pub owner_id: Option<String>,
    pub custom: BTreeMap<String, serde_json::Value>,
}

impl Segment {
    /// Everyone: the segment of `{"all": true}`.
    pub fn everyone() -> Self {
        Self {
            tags: Vec::new(),
            organization_id: None,
            deal_stage: None,
            owner_id: None,
            custom: BTreeMap::new(),
        }
    }

    pub fn is_everyone(&self) -> bool {
        self == &Self::everyone()
    }

    pub fn parse(d: &SegmentDraft) -> Result<Self, DomainError> {
        let mut errs = Errors::new();
        let mut tags = Vec::new();
        for (i, t) in d.tag.iter().chain(d.tags.iter()).enumerate() {
            if let Some(t) = errs.take(&format!("segment.tags[{i}]"), required_line(t, 100))
                && !tags.contains(&t)
            {
                tags.push(t);
            }
        }
        if tags.len() > limits::TAGS {
            errs.push("segment.tags", "has too many entries (at most 20)");
        }
        let id = |errs: &mut Errors, field: &str, v: &Option<String>| {
            v.as_deref()
                .and_then(|s| errs.take(field, parse_id(s)))
                .map(str::to_owned)
        };
        let organization_id = id(&mut errs, "segment.organization_id", &d.organization_id);
        let owner_id = id(&mut errs, "segment.owner_id", &d.owner_id);
        let deal_stage = d
            .deal_stage
            .as_deref()
            .and_then(|s| errs.take("segment.deal_stage", parse_key(s)))
            .map(str::to_owned);
        if d.custom.len() > limits::CUSTOM {
            errs.push("segment.custom", "has too many entries (at most 20)");
        }
        for (k, v) in &d.custom {
            if parse_key(k).is_err() {
                errs.push("segment.custom", "names a field key that is not valid");
            } else if !(v.is_string() || v.is_number() || v.is_boolean()) {
                errs.push(
                    format!("segment.custom.{k}"),
                    "must be a text, a number or true/false",
                );
            }
        }
        let seg = Segment {
            tags,
            organization_id,
            deal_stage,
            owner_id,
            custom: d.custom.clone(),
        };
        if errs.is_empty() && seg.is_everyone() && !d.all {
            errs.push(
                "segment",
                "names no criterion; give a tag, an organization, a deal stage, an owner, a custom field or \"all\": true",
            );
        }
        if d.all && !seg.is_everyone() {
            errs.push("segment.all", "cannot be combined with other criteria");
        }
        errs.finish()?;
        Ok(seg)
    }

    /// The draft that parses back to this segment.
    pub fn to_draft(&self) -> SegmentDraft {
        SegmentDraft {
            tag: None,
            tags: self.tags.clone(),
            organization_id: self.organization_id.clone(),
            deal_stage: self.deal_stage.clone(),
            owner_id: self.owner_id.clone(),
            custom: self.custom.clone(),
            all: self.is_everyone(),
        }
    }
}

fn parse_id(s: &str) -> Result<&str, ValueError> {
    let s = s.trim();
    if !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(s)
    } else {
        Err(ValueError::new("is not a valid id"))
    }
}

fn parse_key(s: &str) -> Result<&str, ValueError> {
    let s = s.trim();
    if !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        Ok(s)
    } else {
        Err(ValueError::new("is not a valid key"))
    }
}

// ----------------------------------------------------------------------------------------
// Templates

/// The fields a template may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Placeholder {
    FirstName,
    LastName,
    FullName,
    Organization,
}

impl Placeholder {
    pub const ALL: [Self; 4] = [
        Self::FirstName,
        Self::LastName,
        Self::FullName,
        Self::Organization,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::FirstName => "first_name",
            Self::LastName => "last_name",
            Self::FullName => "full_name",
            Self::Organization => "organization",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Field(Placeholder),
}

/// A parsed template: literal text and placeholders, nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

/// What fills the placeholders for one recipient.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recipient {
    pub first_name: String,
    pub last_name: String,
    pub organization: String,
}

impl Recipient {
    /// The fictional person of previews and test sends: no real person's data leaves the
    /// CRM for a sample.
    pub fn sample() -> Self {
        Self {
            first_name: "Erika".into(),
            last_name: "Mustermann".into(),
            organization: "Muster GmbH".into(),
        }
    }

    fn value(&self, p: Placeholder) -> String {
        match p {
            Placeholder::FirstName => self.first_name.clone(),
            Placeholder::LastName => self.last_name.clone(),
            Placeholder::FullName => format!("{} {}", self.first_name, self.last_name)
                .trim()
                .to_owned(),
            Placeholder::Organization => self.organization.clone(),
        }
    }
}

impl Template {
    /// Parses `src`. Refused: markup (`<tag`, `</`, `<!`, `<?`), an unknown placeholder,
    /// an unclosed `{{`. The error names the placeholder (template text, not personal data).
    pub fn parse(src: &str) -> Result<Self, ValueError> {
        if has_markup(src) {
            return Err(ValueError::new(
                "contains markup such as <script>; templates are plain text, links are written as plain https:// addresses",
            ));
        }
        let mut parts = Vec::new();
        let mut rest = src;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 2..];
            let Some(close) = after.find("}}") else {
                return Err(ValueError::new("has an unclosed placeholder"));
            };
            let name = after[..close].trim();
            let Some(p) = Placeholder::ALL.into_iter().find(|p| p.as_str() == name) else {
                let shown: String = name.chars().take(40).collect();
                return Err(ValueError::new(format!(
                    "names an unknown placeholder: {shown}"
                )));
            };
            parts.push(Part::Field(p));
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Template { parts })
    }

    /// The template as plain text for `r`.
    pub fn render_text(&self, r: &Recipient) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.clone(),
                Part::Field(f) => r.value(*f),
            })
            .collect()
    }

    /// The links written in the template itself (never in a value), in order.
    pub fn links(&self) -> Vec<String> {
        let mut out = Vec::new();
        for p in &self.parts {
            if let Part::Text(t) = p {
                for (_, url) in find_links(t) {
                    out.push(url.to_owned());
                }
            }
        }
        out
    }

    /// The template as HTML for `r`: text escaped, paragraphs at blank lines, the template's
    /// own https links clickable (through `link` when tracking is on, else plain), values
    /// escaped and never linked.
    pub fn render_html(&self, r: &Recipient, link: &dyn Fn(usize, &str) -> String) -> String {
        let mut html = String::new();
        let mut n = 0usize;
        for p in &self.parts {
            match p {
                Part::Text(t) => {
                    let mut last = 0;
                    for (at, url) in find_links(t) {
                        html.push_str(&escape(&t[last..at]));
                        let href = link(n, url);
                        n += 1;
                        html.push_str(&format!(
                            "<a href=\"{}\">{}</a>",
                            escape(&href),
                            escape(url)
                        ));
                        last = at + url.len();
                    }
                    html.push_str(&escape(&t[last..]));
                }
                Part::Field(f) => html.push_str(&escape(&r.value(*f))),
            }
        }
        paragraphs(&html)
    }
}

fn has_markup(s: &str) -> bool {
    let b = s.as_bytes();
    b.windows(2)
        .any(|w| w[0] == b'<' && (w[1].is_ascii_alphabetic() || matches!(w[1], b'/' | b'!' | b'?')))
}

/// `(byte offset, url)` of every `http://` or `https://` link in `t`.
fn find_links(t: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(rel) = t[from..].find("http") {
        let at = from + rel;
        let tail = &t[at..];
        if tail.starts_with("https://") || tail.starts_with("http://") {
            let end = tail
                .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>'))
                .unwrap_or(tail.len());
            // A sentence's full stop or comma is not part of the address.
            let url = tail[..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')']);
            if url.len() > "https://".len() {
                out.push((at, url));
                from = at + url.len();
                continue;
            }
        }
        from = at + 4;
    }
    out
}

pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

fn paragraphs(html: &str) -> String {
    html.replace("\r\n", "\n")
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| format!("<p>{}</p>\n", p.replace('\n', "<br>\n")))
        .collect()
}

// ----------------------------------------------------------------------------------------
// Campaigns

/// A campaign as sent by a client (CONTRACT.md: `name`, `purpose`, `channel`, `subject`,
/// `body`, `segment`).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct CampaignDraft {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub purpose: String,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub segment: Option<SegmentDraft>,
    /// `de` (default) or `en`: the language of the footer and of the pages it links.
    #[serde(default)]
    pub locale: Option<String>,
    /// The class of goods the mail advertises, for the §7(3) UWG similarity check.
    #[serde(default)]
    pub goods_class: Option<String>,
}

/// A checked campaign.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignSpec {
    pub name: String,
    pub purpose: String,
    pub channel: Channel,
    pub subject: String,
    pub body: String,
    pub segment: Segment,
    pub locale: Locale,
    pub goods_class: Option<String>,
}

impl CampaignSpec {
    /// Checks a draft against the purposes registry: the purpose must exist, be active, be
    /// direct marketing and allow email (only email campaigns are sent).
    pub fn parse(d: &CampaignDraft, purposes: &[Purpose]) -> Result<Self, DomainError> {
        let mut errs = Errors::new();
        let name = errs.take("name", required_line(&d.name, limits::NAME));
        let channel = match d.channel.as_deref().map(Channel::parse).transpose() {
            Ok(Some(Channel::Email)) | Ok(None) => Some(Channel::Email),
            Ok(Some(_)) => {
                errs.push(
                    "channel",
                    "must be email: Klar sends campaigns by email only",
                );
                None
            }
            Err(e) => {
                errs.push("channel", e.0);
                None
            }
        };
        let purpose = match crate::policy::purpose::find(purposes, d.purpose.trim()) {
            None => {
                errs.push("purpose", "is not a known purpose");
                None
            }
            Some(p) if !p.active => {
                errs.push("purpose", "is switched off");
                None
            }
            Some(p) if !p.direct_marketing => {
                errs.push(
                    "purpose",
                    "is not a direct-marketing purpose; campaigns advertise",
                );
                None
            }
            Some(p) if !p.allows(Channel::Email) => {
                errs.push("purpose", "does not allow the email channel");
                None
            }
            Some(p) => Some(p.key.clone()),
        };
        let subject = match required_line(&d.subject, limits::SUBJECT) {
            Ok(s) => errs.take("subject", Template::parse(&s).map(|_| s)),
            Err(e) => {
                errs.push("subject", e.0);
                None
            }
        };
        let body = if d.body.trim().is_empty() {
            errs.push("body", "is required");
            None
        } else if d.body.chars().count() > limits::BODY {
            errs.push("body", "is longer than 50000 characters");
            None
        } else {
            errs.take("body", Template::parse(&d.body).map(|_| d.body.clone()))
        };
        let segment = match &d.segment {
            None => {
                errs.push(
                    "segment",
                    "is required: give a tag, an organization, a deal stage, an owner, a custom field or \"all\": true",
                );
                None
            }
            Some(s) => match Segment::parse(s) {
                Ok(s) => Some(s),
                Err(DomainError::Invalid(v)) => {
                    for e in v {
                        errs.push(e.field, e.message);
                    }
                    None
                }
            },
        };
        let locale = d
            .locale
            .as_deref()
            .map(|l| errs.take("locale", Locale::parse(l)))
            .unwrap_or(Some(Locale::De));
        let goods_class = match d.goods_class.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(g) => errs.take("goods_class", required_line(g, 100)),
        };
        errs.finish()?;
        match (name, channel, purpose, subject, body, segment, locale) {
            (
                Some(name),
                Some(channel),
                Some(purpose),
                Some(subject),
                Some(body),
                Some(segment),
                Some(locale),
            ) => Ok(CampaignSpec {
                name,
                purpose,
                channel,
                subject,
                body,
                segment,
                locale,
                goods_class,
            }),
            _ => Err(DomainError::field("campaign", "is not complete")),
        }
    }
}

// ----------------------------------------------------------------------------------------
// The footer (LAW.md table 2e)

/// Who sends: the controller from the installation settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sender {
    pub name: String,
    pub address: String,
    pub email: String,
    /// Register court and number, managing directors, VAT id (§37a HGB, §5 DDG).
    pub imprint: String,
}

impl Sender {
    /// Table 2e, row 1: the sender must be recognisable. Without a name and an address
    /// no advertising mail leaves Klar (`content_missing_sender`).
    pub fn is_complete(&self) -> bool {
        !self.name.trim().is_empty() && !self.address.trim().is_empty()
    }
}

/// What the footer links and says for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FooterLinks {
    pub unsubscribe_url: String,
    pub preferences_url: String,
    /// The mailto address for stopping mails by reply (§7(2) Nr. 3 c UWG).
    pub reply_address: String,
}

/// The footer as plain text. No template can remove it: Klar appends it after rendering.
/// `existing_customer` adds the §7(3) Nr. 4 notice when the mail relies on that exception.
pub fn footer_text(l: Locale, s: &Sender, links: &FooterLinks, existing_customer: bool) -> String {
    let mut o = String::from("\n\n-- \n");
    o.push_str(&sender_lines(l, s).join("\n"));
    o.push_str("\n\n");
    for line in notice_lines(l, links, existing_customer) {
        o.push_str(&line);
        o.push('\n');
    }
    o
}

/// The footer as HTML (escaped).
pub fn footer_html(l: Locale, s: &Sender, links: &FooterLinks, existing_customer: bool) -> String {
    let mut o = String::from("<hr>\n<p class=\"klar-footer\">");
    o.push_str(
        &sender_lines(l, s)
            .iter()
            .map(|x| escape(x))
            .collect::<Vec<_>>()
            .join("<br>\n"),
    );
    o.push_str("</p>\n<p class=\"klar-footer\">");
    let unsub = l.pick("Abmelden", "Unsubscribe");
    let prefs = l.pick("Einstellungen ändern", "Change your settings");
    o.push_str(&format!(
        "<a href=\"{}\">{}</a> · <a href=\"{}\">{}</a></p>\n",
        escape(&links.unsubscribe_url),
        unsub,
        escape(&links.preferences_url),
        prefs
    ));
    for line in notice_lines(l, links, existing_customer).iter().skip(2) {
        o.push_str(&format!("<p class=\"klar-footer\">{}</p>\n", escape(line)));
    }
    o
}

fn sender_lines(l: Locale, s: &Sender) -> Vec<String> {
    let mut v = vec![s.name.trim().to_owned()];
    v.extend(
        s.address
            .lines()
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(str::to_owned),
    );
    if !s.email.trim().is_empty() {
        v.push(format!("{}: {}", l.pick("E-Mail", "Email"), s.email.trim()));
    }
    v.extend(
        s.imprint
            .lines()
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(str::to_owned),
    );
    v
}

fn notice_lines(l: Locale, links: &FooterLinks, existing_customer: bool) -> Vec<String> {
    let mut v = vec![
        format!(
            "{}: {}",
            l.pick("Abmelden mit einem Klick", "Unsubscribe in one click"),
            links.unsubscribe_url
        ),
        format!(
            "{}: {}",
            l.pick("Ihre Einstellungen", "Your settings"),
            links.preferences_url
        ),
        l.pick(
            &format!(
                "Sie können der Verwendung Ihrer Daten für Direktwerbung jederzeit widersprechen (Art. 21 Abs. 2 DSGVO), über den Abmeldelink oder per E-Mail an {}, ohne dass andere als die Übermittlungskosten nach den Basistarifen entstehen.",
                links.reply_address
            ),
            &format!(
                "You may object to the use of your data for direct marketing at any time (Art. 21(2) GDPR), through the unsubscribe link or by email to {}, at no cost other than the transmission costs at basic rates.",
                links.reply_address
            ),
        )
        .to_owned(),
    ];
    if existing_customer {
        v.push(
            l.pick(
                "Wir senden Ihnen diese E-Mail als unserem Kunden zu ähnlichen Waren oder Dienstleistungen (§ 7 Abs. 3 UWG). Sie können dieser Verwendung Ihrer E-Mail-Adresse jederzeit widersprechen, ohne dass hierfür andere als die Übermittlungskosten nach den Basistarifen entstehen.",
                "We send you this email as our customer about similar goods or services (§ 7(3) UWG). You may object to this use of your email address at any time, at no cost other than the transmission costs at basic rates.",
            )
            .to_owned(),
        );
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::default_purposes;
    use proptest::prelude::*;

    fn draft() -> CampaignDraft {
        CampaignDraft {
            name: "Frühjahr".into(),
            purpose: "newsletter".into(),
            channel: Some("email".into()),
            subject: "Hallo {{first_name}}".into(),
            body: "Liebe {{ first_name }},\n\nmehr unter https://firma.example/neu.\n".into(),
            segment: Some(SegmentDraft {
                tag: Some("messe".into()),
                ..SegmentDraft::default()
            }),
            locale: None,
            goods_class: None,
        }
    }

    #[test]
    fn a_template_fills_known_placeholders_and_refuses_others() {
        let t =
            Template::parse("Hallo {{first_name}} {{ last_name }} von {{organization}}").unwrap();
        assert_eq!(
            t.render_text(&Recipient::sample()),
            "Hallo Erika Mustermann von Muster GmbH"
        );
        let e = Template::parse("Hallo {{vorname}}").unwrap_err();
        assert!(e.0.contains("vorname"), "{e}");
        assert!(Template::parse("Hallo {{first_name").is_err());
    }

    #[test]
    fn markup_and_script_are_refused() {
        for bad in [
            "<script>alert(1)</script>",
            "Hi <img src=x onerror=alert(1)>",
            "</p>",
            "<!-- x -->",
        ] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
        assert!(Template::parse("a < b and 3<4 are fine").is_ok());
    }

    #[test]
    fn values_are_escaped_and_never_linked() {
        let t = Template::parse("Hallo {{first_name}}, siehe https://firma.example/a.").unwrap();
        let r = Recipient {
            first_name: "<b>https://evil.example</b>".into(),
            ..Recipient::default()
        };
        let html = t.render_html(&r, &|_, u| u.to_owned());
        assert!(
            html.contains("&lt;b&gt;https://evil.example&lt;/b&gt;"),
            "{html}"
        );
        assert!(
            html.contains("<a href=\"https://firma.example/a\">"),
            "{html}"
        );
        assert_eq!(html.matches("<a ").count(), 1);
        assert_eq!(t.links(), vec!["https://firma.example/a".to_string()]);
    }

    #[test]
    fn a_campaign_needs_a_direct_marketing_email_purpose_and_a_segment() {
        let ps = default_purposes();
        assert!(CampaignSpec::parse(&draft(), &ps).is_ok());
        let mut d = draft();
        d.purpose = "contract".into();
        assert!(CampaignSpec::parse(&d, &ps).is_err());
        let mut d = draft();
        d.segment = Some(SegmentDraft::default());
        let DomainError::Invalid(e) = CampaignSpec::parse(&d, &ps).unwrap_err();
        assert!(e.iter().any(|e| e.field == "segment"), "{e:?}");
        let mut d = draft();
        d.channel = Some("phone".into());
        assert!(CampaignSpec::parse(&d, &ps).is_err());
        let mut d = draft();
        d.body = "x <script>".into();
        let DomainError::Invalid(e) = CampaignSpec::parse(&d, &ps).unwrap_err();
        assert!(e.iter().any(|e| e.field == "body"), "{e:?}");
    }

    #[test]
    fn the_footer_names_the_sender_the_opt_out_and_the_objection_right() {
        let s = Sender {
            name: "Muster GmbH".into(),
            address: "Hauptstr. 1\n10115 Berlin".into(),
            email: "info@muster.example".into(),
            imprint: "Amtsgericht Charlottenburg HRB 12345\nGeschäftsführer: M. Muster".into(),
        };
        let links = FooterLinks {
            unsubscribe_url: "https://crm.example/u/tok".into(),
            preferences_url: "https://crm.example/p/tok".into(),
            reply_address: "abmelden@muster.example".into(),
        };
        let t = footer_text(Locale::De, &s, &links, false);
        for needle in [
            "Muster GmbH",
            "10115 Berlin",
            "HRB 12345",
            "https://crm.example/u/tok",
            "https://crm.example/p/tok",
            "Art. 21 Abs. 2 DSGVO",
            "abmelden@muster.example",
        ] {
            assert!(t.contains(needle), "{needle}: {t}");
        }
        assert!(!t.contains("§ 7 Abs. 3"));
        assert!(footer_text(Locale::En, &s, &links, true).contains("§ 7(3) UWG"));
        let h = footer_html(Locale::De, &s, &links, true);
        assert!(h.contains("href=\"https://crm.example/u/tok\"") && h.contains("§ 7 Abs. 3"));
    }

    proptest! {
        #[test]
        fn parsing_any_text_never_panics_and_rendering_never_emits_markup(s in "\\PC{0,200}") {
            if let Ok(t) = Template::parse(&s) {
                let html = t.render_html(&Recipient::sample(), &|_, u| u.to_owned());
                prop_assert!(!html.contains("<script"));
                let stripped = html.replace("<p>", "").replace("</p>", "").replace("<br>", "")
                    .replace("</a>", "");
                // The only tags left are the links Klar itself made.
                prop_assert_eq!(stripped.matches('<').count(), html.matches("<a href=").count());
            }
        }
    }
}
