//! The Grafana dashboard (`docs/grafana/onelive.json`) against what a binary
//! really exports: every metric a panel's query names must be a family of a
//! real `/metrics` scrape, used as its type allows (`rate`/`increase` on
//! counters and histogram series, never on gauges; `_bucket`/`_sum`/`_count`
//! only of histograms), and every label the query filters or groups by must be
//! on that metric's samples. Used by the recorder's test (`e2e_grafana.rs`)
//! and the sink's (`bins/onelive-sink/tests/grafana.rs`), each with a scrape
//! taken after real activity.

use std::collections::{BTreeMap, BTreeSet};

/// Labels Prometheus adds when it scrapes (not in the exporter's text).
const SCRAPE_LABELS: [&str; 2] = ["instance", "job"];

/// One metric named in a panel's query.
#[derive(Debug, Clone, PartialEq)]
pub struct Use {
    /// The panel's title.
    pub panel: String,
    /// The series name as written (`onelive_x_seconds_bucket`).
    pub metric: String,
    /// The labels the query filters or groups by (scrape labels left out).
    pub labels: BTreeSet<String>,
    /// Inside `rate(...)` or `increase(...)`.
    pub rated: bool,
}

/// The dashboard file, parsed.
pub fn dashboard() -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/grafana/onelive.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} is not JSON: {e}"))
}

/// Every metric use in the panels' queries (rows' nested panels included).
pub fn uses(dashboard: &serde_json::Value) -> Vec<Use> {
    let mut out = Vec::new();
    let mut panels: Vec<&serde_json::Value> =
        dashboard["panels"].as_array().expect("no panels").iter().collect();
    while let Some(panel) = panels.pop() {
        if let Some(nested) = panel["panels"].as_array() {
            panels.extend(nested);
        }
        let title = panel["title"].as_str().unwrap_or_default();
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap_or_else(|| panic!("{title}: no expr"));
            out.extend(parse_expr(title, expr));
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// The `onelive_*` metrics of one PromQL expression, with the labels of their
/// matchers and of the expression's `by (...)` clauses.
pub fn parse_expr(panel: &str, expr: &str) -> Vec<Use> {
    let mut grouping = BTreeSet::new();
    let mut rest = expr;
    while let Some(at) = rest.find("by (") {
        let tail = &rest[at + 4..];
        let end = tail.find(')').unwrap_or_else(|| panic!("{panel}: unclosed by ( in {expr}"));
        grouping.extend(tail[..end].split(',').map(|l| l.trim().to_owned()));
        rest = &tail[end..];
    }
    let mut out = Vec::new();
    let bytes: Vec<char> = expr.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        let starts = (i == 0 || !is_ident(bytes[i - 1]))
            && expr[char_pos(expr, i)..].starts_with("onelive_");
        if !starts {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < bytes.len() && is_ident(bytes[j]) {
            j += 1;
        }
        let metric: String = bytes[i..j].iter().collect();
        let before: String = bytes[..i].iter().collect();
        let rated = before.ends_with("rate(") || before.ends_with("increase(");
        let mut labels = grouping.clone();
        if j < bytes.len() && bytes[j] == '{' {
            let close = (j..bytes.len())
                .find(|&k| bytes[k] == '}')
                .unwrap_or_else(|| panic!("{panel}: unclosed {{ in {expr}"));
            let inner: String = bytes[j + 1..close].iter().collect();
            for matcher in inner.split(',').filter(|m| !m.trim().is_empty()) {
                let name: String = matcher.trim().chars().take_while(|&c| is_ident(c)).collect();
                labels.insert(name);
            }
            j = close + 1;
        }
        labels.retain(|l| !SCRAPE_LABELS.contains(&l.as_str()));
        out.push(Use { panel: panel.to_owned(), metric, labels, rated });
        i = j;
    }
    out
}

fn char_pos(s: &str, chars: usize) -> usize {
    s.char_indices().nth(chars).map_or(s.len(), |(b, _)| b)
}

/// A Prometheus text: `# TYPE` of each family, the label names seen on each series.
#[derive(Debug, Default)]
pub struct Scrape {
    pub types: BTreeMap<String, String>,
    pub series: BTreeMap<String, BTreeSet<String>>,
}

pub fn parse_scrape(text: &str) -> Scrape {
    let mut scrape = Scrape::default();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            if let (Some(name), Some(kind)) = (parts.next(), parts.next()) {
                scrape.types.insert(name.to_owned(), kind.to_owned());
            }
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let name: String = line.chars().take_while(|&c| is_ident(c)).collect();
        let labels = scrape.series.entry(name.clone()).or_default();
        if let Some(inner) = line[name.len()..].strip_prefix('{').and_then(|r| r.split_once('}')) {
            // Label values are quoted and may hold commas: take the names before `="`.
            let mut rest = inner.0;
            while let Some(eq) = rest.find("=\"") {
                labels.insert(rest[..eq].trim_start_matches(',').trim().to_owned());
                let value = &rest[eq + 2..];
                let mut end = 0;
                let mut escaped = false;
                for (k, c) in value.char_indices() {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        end = k;
                        break;
                    }
                }
                rest = &value[end + 1..];
            }
        }
    }
    scrape
}

/// What is wrong with `uses` against `scrape`; empty when every use is sound.
pub fn problems(uses: &[Use], scrape: &Scrape) -> Vec<String> {
    let mut out = Vec::new();
    for u in uses {
        let at = format!("panel {:?}: {}", u.panel, u.metric);
        let histogram_of = ["_bucket", "_sum", "_count"].iter().find_map(|suffix| {
            let base = u.metric.strip_suffix(suffix)?;
            (scrape.types.get(base).map(String::as_str) == Some("histogram")).then_some(base)
        });
        let family = histogram_of.unwrap_or(&u.metric);
        let Some(kind) = scrape.types.get(family) else {
            out.push(format!("{at}: not exported (no `# TYPE {family}`)"));
            continue;
        };
        match (kind.as_str(), histogram_of.is_some(), u.rated) {
            ("histogram", false, _) => {
                out.push(format!("{at}: a histogram, used without _bucket/_sum/_count"))
            }
            ("gauge", _, true) => out.push(format!("{at}: a gauge inside rate()/increase()")),
            ("counter", _, false) => out.push(format!("{at}: a counter outside rate()/increase()")),
            ("histogram", true, false) => {
                out.push(format!("{at}: a histogram series outside rate()/increase()"))
            }
            ("counter" | "gauge" | "histogram", _, _) => {}
            (other, _, _) => out.push(format!("{at}: unexpected type {other}")),
        }
        let Some(seen) = scrape.series.get(&u.metric) else {
            out.push(format!("{at}: no sample in the scrape"));
            continue;
        };
        for label in u.labels.difference(seen) {
            out.push(format!("{at}: label {label:?} is not on its samples (they have {seen:?})"));
        }
    }
    out
}

/// The dashboard's uses of metrics whose name starts with `prefix`, and not with
/// any of `except`; panics when there are none (a renamed family must not pass
/// by being skipped).
pub fn uses_with_prefix(prefix: &str, except: &[&str]) -> Vec<Use> {
    let all = uses(&dashboard());
    let picked: Vec<Use> = all
        .into_iter()
        .filter(|u| u.metric.starts_with(prefix) && !except.iter().any(|e| u.metric.starts_with(e)))
        .collect();
    assert!(!picked.is_empty(), "the dashboard names no {prefix}* metric");
    picked
}

/// Whether `scrape` already has what `uses` need (for polling until it does).
pub fn ready(uses: &[Use], text: &str) -> bool {
    problems(uses, &parse_scrape(text)).is_empty()
}

#[test]
fn the_check_finds_unknown_names_missing_labels_and_misused_types() {
    let text = "\
# TYPE onelive_polls_total counter
onelive_polls_total{platform=\"bilibili\",result=\"live, or not\"} 3
# TYPE onelive_channels gauge
onelive_channels{state=\"live\"} 1
# TYPE onelive_lag_seconds histogram
onelive_lag_seconds_bucket{endpoint=\"a\",le=\"0.1\"} 1
onelive_lag_seconds_bucket{endpoint=\"a\",le=\"+Inf\"} 1
onelive_lag_seconds_sum{endpoint=\"a\"} 0.05
onelive_lag_seconds_count{endpoint=\"a\"} 1
";
    let scrape = parse_scrape(text);
    assert_eq!(
        scrape.series["onelive_polls_total"],
        BTreeSet::from(["platform".into(), "result".into()])
    );
    let check = |expr: &str| problems(&parse_expr("p", expr), &scrape);
    // Sound uses.
    assert_eq!(
        check("sum by (platform, result) (rate(onelive_polls_total{instance=~\"$instance\"}[5m]))"),
        Vec::<String>::new()
    );
    assert_eq!(check("sum(onelive_channels{state=\"live\"})"), Vec::<String>::new());
    assert_eq!(
        check(
            "histogram_quantile(0.95, sum by (le, endpoint) (rate(onelive_lag_seconds_bucket[5m])))"
        ),
        Vec::<String>::new()
    );
    // Each kind of mistake is reported.
    let unknown = check("sum(rate(onelive_polls_count_total[5m]))");
    assert!(unknown.len() == 1 && unknown[0].contains("not exported"), "{unknown:?}");
    let label = check("sum by (channel) (rate(onelive_polls_total[5m]))");
    assert!(label.len() == 1 && label[0].contains("\"channel\""), "{label:?}");
    let matcher = check("sum(onelive_channels{status=\"live\"})");
    assert!(matcher.len() == 1 && matcher[0].contains("\"status\""), "{matcher:?}");
    let gauge = check("rate(onelive_channels[5m])");
    assert!(gauge.len() == 1 && gauge[0].contains("gauge inside"), "{gauge:?}");
    let counter = check("sum(onelive_polls_total)");
    assert!(counter.len() == 1 && counter[0].contains("counter outside"), "{counter:?}");
    let bare = check("sum(rate(onelive_lag_seconds[5m]))");
    assert!(bare[0].contains("without _bucket"), "{bare:?}");
    let suffix_of_counter = check("sum(rate(onelive_channels_count[5m]))");
    assert!(suffix_of_counter[0].contains("not exported"), "{suffix_of_counter:?}");
}

#[test]
fn the_dashboard_is_grafana_json_with_a_query_in_every_panel() {
    let d = dashboard();
    assert_eq!(d["uid"], "onelive");
    let panels = d["panels"].as_array().unwrap();
    let graphs: Vec<_> = panels.iter().filter(|p| p["type"] != "row").collect();
    assert!(graphs.len() >= 15, "{} panels", graphs.len());
    for p in graphs {
        let targets =
            p["targets"].as_array().unwrap_or_else(|| panic!("{}: no targets", p["title"]));
        assert!(!targets.is_empty(), "{}", p["title"]);
        for t in targets {
            let expr = t["expr"].as_str().unwrap();
            assert!(
                !parse_expr("", expr).is_empty(),
                "{}: {expr} names no onelive_ metric",
                p["title"]
            );
        }
        assert_eq!(p["datasource"]["uid"], "${datasource}", "{}", p["title"]);
    }
    // Every family the binaries register is on the dashboard (the engine's, the
    // dispatcher's and the sink's), read from the sources that register them.
    let on_dashboard: BTreeSet<String> = uses(&d).into_iter().map(|u| u.metric).collect();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    for file in [
        "crates/onelive-engine/src/metrics.rs",
        "crates/onelive-webhook/src/dispatcher.rs",
        "crates/onelive-sink/src/metrics.rs",
    ] {
        let source = std::fs::read_to_string(format!("{root}/{file}")).unwrap();
        let mut names = BTreeSet::new();
        for kind in ["counter!(", "gauge!(", "histogram!("] {
            for piece in source.split(kind).skip(1) {
                let name: String = piece
                    .trim_start()
                    .trim_start_matches('"')
                    .chars()
                    .take_while(|&c| is_ident(c))
                    .collect();
                if name.starts_with("onelive_") {
                    names.insert((kind, name));
                }
            }
        }
        assert!(!names.is_empty(), "{file}: no metric found");
        for (kind, name) in names {
            let shown = if kind == "histogram!(" {
                ["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|s| on_dashboard.contains(&format!("{name}{s}")))
            } else {
                on_dashboard.contains(&name)
            };
            assert!(shown, "{name} ({file}) is on no panel of docs/grafana/onelive.json");
        }
    }
}
