//! Numbers as the report prints them. Every float goes through a fixed format here, so the same
//! data always gives the same text.

/// `166000.4` → `166,000`.
pub fn thousands(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    let rounded = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in rounded.chars().enumerate() {
        if i > 0 && (rounded.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 && rounded != "0" {
        out.insert(0, '-');
    }
    out
}

/// Microseconds as a latency: `812 µs`, `3.21 ms`, `153 ms`, `1.05 s`.
pub fn latency_us(us: f64) -> String {
    if us < 1000.0 {
        format!("{us:.0} µs")
    } else if us < 10_000.0 {
        format!("{:.2} ms", us / 1e3)
    } else if us < 1_000_000.0 {
        format!("{:.1} ms", us / 1e3)
    } else {
        format!("{:.2} s", us / 1e6)
    }
}

/// A count on a chart axis: whole numbers only (`0`, `2`, `1,000`); a tick between two whole
/// numbers gets no label.
pub fn axis_count(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        thousands(v)
    } else {
        String::new()
    }
}

/// Milliseconds on a chart axis: `0.5`, `12`, `1,500`.
pub fn axis_ms(ms: f64) -> String {
    if ms < 1.0 {
        format!("{ms:.2}")
    } else if ms < 10.0 {
        format!("{ms:.1}")
    } else {
        thousands(ms)
    }
}

/// Bytes: `180 B`, `22.7 KiB`, `1.9 MiB`, `1.20 GiB`.
pub fn bytes(b: f64) -> String {
    let a = b.abs();
    if a < 1024.0 {
        format!("{b:.0} B")
    } else if a < 1024.0 * 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else if a < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / 1048576.0)
    } else {
        format!("{:.2} GiB", b / 1073741824.0)
    }
}

/// A ratio such as `2.3x`; `n/a` when it has no meaning (a zero or missing denominator).
pub fn times(r: f64) -> String {
    if !r.is_finite() {
        "n/a".into()
    } else if r >= 10.0 {
        format!("{r:.0}x")
    } else {
        format!("{r:.1}x")
    }
}

/// A share as a percentage: `0.42%`, `12%`.
pub fn percent(share: f64) -> String {
    let p = share * 100.0;
    if p == 0.0 {
        "0%".into()
    } else if p < 1.0 {
        format!("{p:.2}%")
    } else if p < 10.0 {
        format!("{p:.1}%")
    } else {
        format!("{p:.0}%")
    }
}

/// `a / b` as [`times`] would print it, `n/a` when `b` is zero.
pub fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        times(a / b)
    } else {
        "n/a".into()
    }
}

/// A figure with its spread over repeated runs: `1,234 (1,200–1,260)`, or just the value when
/// there was one run or every run gave the same.
pub fn spread(s: &crate::stats::Spread, f: impl Fn(f64) -> String) -> String {
    let (lo, hi) = (f(s.min), f(s.max));
    if s.n < 2 || lo == hi {
        f(s.median)
    } else {
        format!("{} ({lo}–{hi})", f(s.median))
    }
}

/// A plain float with a fixed number of decimals (CSV and tables).
pub fn fixed(v: f64, decimals: usize) -> String {
    if v.is_finite() {
        format!("{v:.decimals$}")
    } else {
        String::new()
    }
}

/// Escapes text for HTML.
pub fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// The report's prose is a small Markdown subset (`code` and **bold**); this turns it into HTML.
pub fn inline_html(text: &str) -> String {
    let escaped = html(text);
    let mut out = String::with_capacity(escaped.len());
    let mut code = false;
    let mut bold = false;
    let mut rest = escaped.as_str();
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("**") && !code {
            out.push_str(if bold { "</strong>" } else { "<strong>" });
            bold = !bold;
            rest = &rest[2..];
        } else if c == '`' {
            out.push_str(if code { "</code>" } else { "<code>" });
            code = !code;
            rest = &rest[1..];
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    if code {
        out.push_str("</code>");
    }
    if bold {
        out.push_str("</strong>");
    }
    out
}

/// A CSV field, quoted when it must be.
pub fn csv(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(thousands(166000.4), "166,000");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(-1234.0), "-1,234");
        assert_eq!(latency_us(812.0), "812 µs");
        assert_eq!(latency_us(3210.0), "3.21 ms");
        assert_eq!(latency_us(153_000.0), "153.0 ms");
        assert_eq!(bytes(180.0), "180 B");
        assert_eq!(bytes(22.7 * 1024.0), "22.7 KiB");
        assert_eq!(percent(0.0042), "0.42%");
    }

    #[test]
    fn inline_markup() {
        assert_eq!(
            inline_html("a `b<c>` **d**"),
            "a <code>b&lt;c&gt;</code> <strong>d</strong>"
        );
        assert_eq!(csv("a,b"), "\"a,b\"");
    }
}
