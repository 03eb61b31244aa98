//! The Grafana dashboard's sink panels against a real `onelive-sink serve`:
//! two Pixeldrain uploads (one retried then failed, one done) through the
//! stand-in, then `/metrics` is scraped until every `onelive_sink_*` metric and
//! label the dashboard's queries name is exported, and checked with the
//! recorder's `grafana_dashboard` (the same check of the same file).

use std::time::{Duration, Instant};

use onelive_sink::stand_in::PixeldrainStandIn;

use crate::common::*;
use crate::grafana_dashboard::{parse_scrape, problems, ready, uses_with_prefix};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sink_metric_of_the_grafana_dashboard_is_exported_with_its_labels() {
    let uses = uses_with_prefix("onelive_sink_", &[]);
    let pd = PixeldrainStandIn::start(API_KEY).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &key_auth(), &pd.api_base(), "attempts = 2");
    write_file(&dir.path().join("rec/a.mp4"), 1000);
    write_file(&dir.path().join("rec/b.mp4"), 2000);
    let sink = SinkProcess::start(dir.path(), &[]);
    let hook = sink.url(&format!("?key={KEY}"));

    pd.fail_next(2);
    assert_eq!(post(&hook, &transmux_event("/app/rec/a.mp4")).await.0, 200);
    wait_for("the first job to fail", Duration::from_secs(60), || {
        jobs_json(dir.path()).first().is_some_and(|j| j["state"] == "failed")
    })
    .await;
    assert_eq!(post(&hook, &transmux_event("/app/rec/b.mp4")).await.0, 200);

    let url = format!("http://{}/metrics?key={KEY}", sink.addr);
    let deadline = Instant::now() + Duration::from_secs(60);
    let text = loop {
        let response = reqwest::get(&url).await.unwrap();
        assert_eq!(response.status(), 200);
        let text = response.text().await.unwrap();
        if ready(&uses, &text) && text.contains("outcome=\"done\"") {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "still missing after 60 s:\n{}\nlast scrape:\n{text}\nlog:\n{}",
            problems(&uses, &parse_scrape(&text)).join("\n"),
            sink.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(pd.uploads().len(), 1, "{text}");
    for outcome in ["done", "retry", "failed"] {
        let series =
            format!("onelive_sink_jobs_total{{kind=\"pixeldrain\",outcome=\"{outcome}\"}}");
        assert!(text.lines().any(|l| l.starts_with(&series)), "no {series}:\n{text}");
    }
    sink.kill();
}
