//! The dashboard's look: one layout, the stylesheet (served from the binary,
//! no CDN, no script), and the small pieces every page shares. maud escapes
//! every value it is given.

use maud::{html, Markup, PreEscaped, DOCTYPE};

/// The pages of the navigation bar: path and title.
const NAV: [(&str, &str); 8] = [
    ("/", "Overview"),
    ("/requests", "Requests"),
    ("/approvals", "Approvals"),
    ("/executions", "Executions"),
    ("/breaches", "Breaches"),
    ("/audit", "Audit log"),
    ("/runs", "Runs"),
    ("/quarantine", "Quarantine"),
];

/// What the header says about the environment.
pub(super) struct Frame<'a> {
    pub env: &'a str,
    pub target: &'a str,
}

/// A whole page: header with navigation, the page's title and body.
pub(super) fn page(frame: &Frame<'_>, active: &str, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · padetl " (frame.env) }
                link rel="stylesheet" href="/static/app.css";
            }
            body {
                header {
                    span.brand { "PA Dealing · padetl" }
                    nav {
                        @for (path, name) in NAV {
                            a href=(path) class=[(path == active).then_some("active")] { (name) }
                        }
                    }
                    span.env { "env " strong { (frame.env) } " · " (frame.target) " · read only" }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// A status (request, decision, run, severity) as a coloured badge.
pub(super) fn badge(status: &str) -> Markup {
    let class = format!(
        "badge s-{}",
        status.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
    );
    html! { span class=(class) { (status.replace('_', " ")) } }
}

/// A count with thousands separators, for people.
pub(super) fn count(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    match n < 0 {
        true => format!("-{out}"),
        false => out,
    }
}

/// A reference lookup that found nothing shows the id it looked for; the
/// row itself never disappears.
pub(super) fn unknown(id: Option<i64>) -> Markup {
    match id {
        Some(id) => html! { span.unknown { "unknown #" (id) } },
        None => html! { span.muted { "–" } },
    }
}

/// "Next page" for a keyset-paginated list: the current filters plus `after`.
pub(super) fn pager(path: &str, query: &[(&str, String)], next: Option<String>) -> Markup {
    let Some(after) = next else {
        return html! { p.pager.muted { "End of the list." } };
    };
    let mut pairs: Vec<(&str, String)> = query
        .iter()
        .filter(|(k, v)| *k != "after" && !v.is_empty())
        .cloned()
        .collect();
    pairs.push(("after", after));
    let href = format!("{path}?{}", encode_query(&pairs));
    html! {
        p.pager {
            a href=(path) { "First page" }
            a href=(href) rel="next" { "Next page →" }
        }
    }
}

/// `k=v&…`, percent-encoded.
pub(super) fn encode_query(pairs: &[(&str, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())))
        .finish()
}

/// An HTML fragment padetl itself built with every value escaped (a run's
/// report): embedded as it is.
pub(super) fn trusted(fragment: String) -> Markup {
    PreEscaped(fragment)
}

/// The stylesheet: readable at laptop width, status colours, numbers
/// right-aligned. Served as `/static/app.css` so that no style is inline
/// (the Content-Security-Policy forbids it).
pub(super) const CSS: &str = r#":root{--fg:#1f2328;--muted:#59636e;--line:#d8dee4;--bg:#f6f8fa;--accent:#0b5cad;--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--fg);background:#fff}
header{background:#0d1b2a;color:#fff;padding:.6rem 1.25rem;display:flex;gap:1.25rem;align-items:center;flex-wrap:wrap}
header .brand{font-weight:650;letter-spacing:.01em}
header nav a{color:#c9d4df;text-decoration:none;margin-right:.9rem;padding:.2rem 0;border-bottom:2px solid transparent}
header nav a.active,header nav a:hover{color:#fff;border-bottom-color:#5aa9ff}
header .env{margin-left:auto;font-size:12px;color:#c9d4df}
main{max-width:1320px;margin:0 auto;padding:1.25rem}
h1{font-size:1.45rem;margin:.25rem 0 1rem}
h2{font-size:1.05rem;margin:1.75rem 0 .6rem}
a{color:var(--accent)}
.muted{color:var(--muted)}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(230px,1fr));gap:.75rem}
.tile{border:1px solid var(--line);border-radius:10px;padding:.8rem 1rem;background:#fff;box-shadow:0 1px 0 rgba(31,35,40,.04)}
.tile h3{margin:0 0 .45rem;font-size:.75rem;font-weight:650;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.tile .big{font-size:1.7rem;font-weight:650;font-variant-numeric:tabular-nums}
.tile dl{display:grid;grid-template-columns:1fr auto;margin:0;gap:.2rem .75rem}
.tile dt{margin:0}.tile dd{margin:0;text-align:right;font-variant-numeric:tabular-nums;font-weight:600}
.tile.alert{border-color:#ffcecb;background:#fff8f7}
.kv{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1.25rem;margin:0}
.kv dt{color:var(--muted)}.kv dd{margin:0}
table{border-collapse:collapse;width:100%;font-size:13px;background:#fff}
th,td{padding:.4rem .55rem;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{background:var(--bg);font-weight:650;color:#393f46}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tbody tr:hover td{background:#f9fbfd}
.scroll{overflow-x:auto}
.badge{display:inline-block;padding:.05rem .5rem;border-radius:999px;font-size:12px;border:1px solid #d0d7de;background:#f6f8fa;white-space:nowrap}
.s-approved,.s-executed,.s-succeeded,.s-low,.s-matched{color:var(--ok);border-color:#aceebb;background:#dafbe1}
.s-pending,.s-pending_manager_approval,.s-pending_compliance_approval,.s-medium,.s-running,.s-warn{color:var(--warn);border-color:#f5e0a0;background:#fff8c5}
.s-rejected,.s-high,.s-failed,.s-checks_failed,.s-fail{color:var(--bad);border-color:#ffcecb;background:#ffebe9}
.s-cancelled,.s-expired{color:var(--muted)}
.unknown{color:var(--bad);font-style:italic}
form.filters{display:flex;flex-wrap:wrap;gap:.6rem;align-items:flex-end;margin:0 0 1rem;padding:.75rem;background:var(--bg);border:1px solid var(--line);border-radius:10px}
form.filters label{display:flex;flex-direction:column;gap:.15rem;font-size:12px;color:var(--muted)}
form.filters label.check{flex-direction:row;align-items:center;gap:.35rem;padding-bottom:.35rem}
input,select{font:inherit;padding:.3rem .45rem;border:1px solid #c8d1da;border-radius:6px;background:#fff;color:var(--fg)}
button{font:inherit;padding:.35rem 1rem;border-radius:6px;border:1px solid var(--accent);background:var(--accent);color:#fff;cursor:pointer}
.pager{margin:1rem 0;display:flex;gap:1.25rem}
code,pre{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre{white-space:pre-wrap;word-break:break-word;margin:0}
.timeline{list-style:none;padding:0 0 0 1rem;margin:0;border-left:2px solid var(--line)}
.timeline li{margin:0 0 .9rem;position:relative}
.timeline li::before{content:"";position:absolute;left:-1.43rem;top:.4rem;width:.65rem;height:.65rem;border-radius:50%;background:#fff;border:2px solid var(--accent)}
.chart{width:100%;max-width:980px;height:auto;display:block}
.chart text{font-size:10px;fill:#59636e}
.chart .axis{stroke:#d8dee4}
.c-pending_manager_approval{fill:#d4a72c}.c-pending_compliance_approval{fill:#e3b341}.c-approved{fill:#4ac26b}
.c-executed{fill:#1a7f37}.c-rejected{fill:#cf222e}.c-cancelled{fill:#8c959f}.c-expired{fill:#b7bdc4}.c-other{fill:#6e7781}
.legend{display:flex;flex-wrap:wrap;gap:.9rem;font-size:12px;margin:.4rem 0}
.legend svg{vertical-align:middle;margin-right:.3rem}
.banner{padding:.65rem 1rem;border-radius:10px;margin:0 0 1rem;font-weight:600}
.banner.ok{background:#dafbe1;color:var(--ok)}.banner.fail{background:#ffebe9;color:var(--bad)}
.report table{margin:.5rem 0}
.report h1{font-size:1.2rem}.report h2{font-size:1rem}
@media (max-width:900px){.wide{display:none}main{padding:.75rem}}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_have_thousands_separators() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(12_345_678), "12,345,678");
        assert_eq!(count(-4_200), "-4,200");
    }

    #[test]
    fn values_are_escaped_and_badges_are_safe_classes() {
        let m = badge("<script>alert(1)</script>");
        let s = m.into_string();
        assert!(!s.contains("<script>"), "{s}");
        assert!(
            s.contains("class=\"badge s-_script_alert_1___script_\""),
            "{s}"
        );
        assert_eq!(
            encode_query(&[("employee", "a&b c".into()), ("after", "5".into())]),
            "employee=a%26b+c&after=5"
        );
    }
}
