//! A real SMTP server on a loopback port that accepts every message and keeps it, for
//! tests of mail Klar sends.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

#[derive(Clone, Default)]
pub struct SmtpSink {
    pub addr: String,
    pub messages: Arc<Mutex<Vec<Received>>>,
    /// Recipients to refuse: reply code and how many more times.
    pub failures: Arc<Mutex<HashMap<String, (u16, usize)>>>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind smtp sink");
        let addr = listener.local_addr().expect("addr").to_string();
        let sink = SmtpSink {
            addr,
            messages: Arc::default(),
            failures: Arc::default(),
        };
        let messages = sink.messages.clone();
        let failures = sink.failures.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let messages = messages.clone();
                let failures = failures.clone();
                tokio::spawn(async move {
                    let _ = session(stream, messages, failures).await;
                });
            }
        });
        sink
    }

    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    pub fn all(&self) -> Vec<Received> {
        self.messages.lock().expect("lock").clone()
    }

    /// Refuses `rcpt` with `code` (e.g. 451 temporary, 550 permanent) the next `times` times.
    pub fn fail_rcpt(&self, rcpt: &str, code: u16, times: usize) {
        self.failures
            .lock()
            .expect("lock")
            .insert(rcpt.to_string(), (code, times));
    }

    /// The messages to `rcpt`.
    pub fn to(&self, rcpt: &str) -> Vec<Received> {
        self.all()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t == rcpt))
            .collect()
    }
}

impl Received {
    /// The value of a header (unfolded), if present.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or("");
        let mut out: Option<String> = None;
        let mut current = false;
        for line in head.split("\r\n") {
            if line.starts_with(' ') || line.starts_with('\t') {
                if current && let Some(o) = out.as_mut() {
                    o.push_str(line.trim_start());
                }
                continue;
            }
            current = false;
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case(name)
                && out.is_none()
            {
                out = Some(v.trim().to_string());
                current = true;
            }
        }
        out
    }

    /// Every body part decoded (quoted-printable or base64), joined: the text a reader sees.
    pub fn decoded(&self) -> String {
        use base64::Engine;
        let mut out = String::new();
        let boundary = self
            .data
            .split("boundary=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .map(|b| format!("\r\n--{b}"))
            .unwrap_or_else(|| "\r\n--".to_string());
        for part in self.data.split(boundary.as_str()) {
            let Some((head, body)) = part.split_once("\r\n\r\n") else {
                continue;
            };
            let lower = head.to_ascii_lowercase();
            if lower.contains("content-transfer-encoding: base64") {
                let clean: String = body.chars().filter(|c| !c.is_whitespace()).collect();
                let clean = clean.split("--").next().unwrap_or("").to_string();
                if let Ok(b) =
                    base64::engine::general_purpose::STANDARD.decode(clean.trim_end_matches('-'))
                {
                    out.push_str(&String::from_utf8_lossy(&b));
                }
            } else if lower.contains("content-transfer-encoding: quoted-printable") {
                out.push_str(&decode_qp(body));
            } else {
                out.push_str(body);
            }
            out.push('\n');
        }
        out
    }
}

fn decode_qp(s: &str) -> String {
    let s = s.replace("=\r\n", "");
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'='
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn session(
    stream: tokio::net::TcpStream,
    messages: Arc<Mutex<Vec<Received>>>,
    failures: Arc<Mutex<HashMap<String, (u16, usize)>>>,
) -> std::io::Result<()> {
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    w.write_all(b"220 sink.localhost ESMTP\r\n").await?;
    let mut from = String::new();
    let mut to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_string();
        let upper = cmd.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            w.write_all(b"250-sink.localhost\r\n250 8BITMIME\r\n")
                .await?;
        } else if upper.starts_with("HELO") {
            w.write_all(b"250 sink.localhost\r\n").await?;
        } else if upper.starts_with("MAIL FROM:") {
            from = cmd[10..].trim().to_string();
            w.write_all(b"250 OK\r\n").await?;
        } else if upper.starts_with("RCPT TO:") {
            let rcpt = cmd[8..].trim().trim_matches(['<', '>']).to_string();
            let refuse = {
                let mut f = failures.lock().expect("lock");
                match f.get_mut(&rcpt) {
                    Some((code, n)) if *n > 0 => {
                        *n -= 1;
                        Some(*code)
                    }
                    _ => None,
                }
            };
            match refuse {
                Some(code) => {
                    w.write_all(format!("{code} refused for this test\r\n").as_bytes())
                        .await?;
                }
                None => {
                    to.push(rcpt);
                    w.write_all(b"250 OK\r\n").await?;
                }
            }
        } else if upper == "DATA" {
            w.write_all(b"354 go ahead\r\n").await?;
            let mut data = String::new();
            loop {
                line.clear();
                if r.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                data.push_str(&line);
            }
            messages.lock().expect("lock").push(Received {
                from: from.clone(),
                to: std::mem::take(&mut to),
                data,
            });
            w.write_all(b"250 queued\r\n").await?;
        } else if upper == "QUIT" {
            w.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else if upper == "RSET" || upper == "NOOP" {
            w.write_all(b"250 OK\r\n").await?;
        } else {
            w.write_all(b"502 not implemented\r\n").await?;
        }
    }
}
