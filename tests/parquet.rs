//! Issue 17: the Parquet exports, read back with DuckDB (its Python package, in the venv that
//! `scripts/setup.sh --test` makes: target/duckdb-venv) and checked against the JSON they
//! come from: row counts and sums, the CSV's columns, and the README's campaign query run as
//! written (scripts/campaign.sql, which the README includes verbatim).
//!
//! Without that venv the tests are skipped with a notice; under `CI=true` (where setup.sh
//! installs it) they fail saying why.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::util::{bin, stderr, tmp};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The Python that has DuckDB, or `None` (after a notice) when the test is to be skipped.
fn duckdb_python(test: &str) -> Option<PathBuf> {
    let python = std::env::var_os("PEERSCOPE_DUCKDB_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/duckdb-venv/bin/python"));
    let works = Command::new(&python)
        .args(["-c", "import duckdb"])
        .output()
        .is_ok_and(|o| o.status.success());
    if works {
        return Some(python);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "{test}: no DuckDB at {} (bash scripts/setup.sh --test installs it)",
            python.display()
        );
    }
    eprintln!(
        "note: skipping {test}: no DuckDB at {} (run bash scripts/setup.sh --test)",
        python.display()
    );
    None
}

/// Runs SQL in `dir` with DuckDB; one Vec per result set, each a Vec of rows.
fn query(python: &Path, dir: &Path, sql_or_file: &[&str]) -> Vec<Vec<Vec<Value>>> {
    let out = Command::new(python)
        .arg(root().join("scripts/duckdb-query.py"))
        .arg("--cd")
        .arg(dir)
        .args(sql_or_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "duckdb {sql_or_file:?}: {}",
        stderr(&out)
    );
    let mut sets: Vec<Vec<Vec<Value>>> = Vec::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        if v.get("columns").is_some() {
            sets.push(Vec::new());
        } else {
            sets.last_mut().unwrap().push(v.as_array().unwrap().clone());
        }
    }
    sets
}

/// The one row of a one-row query.
fn one(python: &Path, dir: &Path, sql: &str) -> Vec<Value> {
    let sets = query(python, dir, &[sql]);
    assert_eq!(sets.len(), 1, "{sql}");
    assert_eq!(sets[0].len(), 1, "{sql}");
    sets[0][0].clone()
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

fn capture(name: &str) -> String {
    root().join("captures").join(name).display().to_string()
}

fn analyze_into(dir: &Path, file: &str, extra: &[&str]) {
    let out = bin()
        .arg("analyze")
        .arg(file)
        .arg("-o")
        .arg(dir)
        .args(["--force", "-q", "--no-progress"])
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "analyze {file}: {}", stderr(&out));
}

fn sum_u(rows: &[Value], key: &str) -> u64 {
    rows.iter().map(|r| r[key].as_u64().unwrap_or(0)).sum()
}

#[test]
fn issue17_parquet_counts_and_sums_equal_the_report() {
    let Some(py) = duckdb_python("issue17_parquet_counts_and_sums_equal_the_report") else {
        return;
    };
    let base = tmp("pq-sums");
    let dir = base.join("any-run");
    analyze_into(
        &dir,
        &capture("sopcast-sim-any.pcap"),
        &["--export", "parquet", "--csv", "--flows"],
    );
    let report = json(&dir.join("report.json"));
    let peers = report["peers"]["list"].as_array().unwrap();
    assert!(peers.len() > 5);
    let got = one(
        &py,
        &dir,
        "SELECT count(*), sum(video_in_bytes), sum(control_out_bytes), min(run), max(run) FROM 'peers.parquet'",
    );
    assert_eq!(u(&got[0]), peers.len() as u64);
    assert_eq!(u(&got[1]), sum_u(peers, "video_in_bytes"));
    assert_eq!(u(&got[2]), sum_u(peers, "control_out_bytes"));
    assert_eq!(got[3], "any-run");
    assert_eq!(got[4], "any-run");

    let rows = report["series"]["rows"].as_array().unwrap();
    let got = one(
        &py,
        &dir,
        "SELECT count(*), sum(down_kbps), sum(video_up_kbps), sum(suppliers) FROM 'series.parquet'",
    );
    assert_eq!(u(&got[0]), rows.len() as u64);
    let want: f64 = rows.iter().map(|r| f(&r["down_kbps"])).sum();
    assert!(close(f(&got[1]), want), "{} vs {want}", got[1]);
    let want: f64 = rows.iter().map(|r| f(&r["video_up_kbps"])).sum();
    assert!(close(f(&got[2]), want), "{} vs {want}", got[2]);
    assert_eq!(u(&got[3]), sum_u(rows, "suppliers"));

    // flows.parquet holds the records of flows.ndjson.
    let text = std::fs::read_to_string(dir.join("flows.ndjson")).unwrap();
    let flows: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(flows.len() > 10);
    let got = one(
        &py,
        &dir,
        "SELECT count(*), sum(orig_bytes), sum(resp_ip_bytes), count(DISTINCT id_resp_h), min(uid) FROM 'flows.parquet'",
    );
    assert_eq!(u(&got[0]), flows.len() as u64);
    assert_eq!(u(&got[1]), sum_u(&flows, "orig_bytes"));
    assert_eq!(u(&got[2]), sum_u(&flows, "resp_ip_bytes"));
    let resp: std::collections::BTreeSet<&str> = flows
        .iter()
        .map(|r| r["id.resp_h"].as_str().unwrap())
        .collect();
    assert_eq!(u(&got[3]), resp.len() as u64);

    // report.parquet: the headline figures of the one report.
    let got = one(
        &py,
        &dir,
        "SELECT count(*), max(packets), max(continuity_index), max(suppliers), max(local_ip), max(verdict) FROM 'report.parquet'",
    );
    assert_eq!(u(&got[0]), 1);
    assert_eq!(got[1], report["capture"]["packets"]);
    assert!(close(f(&got[2]), f(&report["continuity"]["index"])));
    assert_eq!(got[3], report["peers"]["suppliers"]);
    assert_eq!(got[4], report["local"]["ip"]);
    assert_eq!(got[5], report["verdict"]["kind"]);

    // The CSV and the Parquet file have the same columns, in the same order (after `run`).
    let csv = std::fs::read_to_string(dir.join("peers.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let cols = query(
        &py,
        &dir,
        &["SELECT column_name FROM (DESCRIBE SELECT * FROM 'peers.parquet')"],
    );
    let cols: Vec<&str> = cols[0].iter().map(|r| r[0].as_str().unwrap()).collect();
    assert_eq!(cols[0], "run");
    assert_eq!(&cols[1..], &header[..]);
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn issue17_export_converts_directories_and_clients_json() {
    let Some(py) = duckdb_python("issue17_export_converts_directories_and_clients_json") else {
        return;
    };
    let base = tmp("pq-export");
    // An analyze output without Parquet files, converted afterwards.
    let a = base.join("starved");
    analyze_into(&a, &capture("sopcast-sim-starved.pcap"), &["--flows"]);
    assert!(!a.join("peers.parquet").exists());
    // A gateway-mode output: clients.json alone (hand-made, as gateway mode writes it).
    let g = base.join("gateway");
    std::fs::create_dir_all(&g).unwrap();
    let clients = serde_json::json!({
        "schema": "peerscope/clients-v1",
        "clients": [
            {"ip": "192.0.2.10", "verdict": "p2p-live-streaming", "application": "sopcast",
             "down_kbps": 412.5, "up_kbps": 96.25, "suppliers": 4, "continuity": 0.995,
             "peers": 31, "estimated": true},
            {"ip": "192.0.2.11", "verdict": "p2p-live-streaming", "application": "sopcast",
             "down_kbps": 288.0, "up_kbps": 40.0, "suppliers": 2, "continuity": 0.8827,
             "peers": 18, "estimated": true},
            {"ip": "192.0.2.12", "verdict": "client-server-stream", "application": null,
             "down_kbps": 1500, "up_kbps": 12.5, "suppliers": 0, "continuity": null,
             "peers": 1, "estimated": false}
        ]
    });
    std::fs::write(g.join("clients.json"), clients.to_string()).unwrap();
    let out = bin().arg("export").arg(&a).arg(&g).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let listed = String::from_utf8_lossy(&out.stdout);
    for f in ["peers", "series", "report", "flows"] {
        assert!(a.join(format!("{f}.parquet")).exists(), "{f}: {listed}");
    }
    assert!(g.join("clients.parquet").exists(), "{listed}");

    let report = json(&a.join("report.json"));
    let peers = report["peers"]["list"].as_array().unwrap();
    let got = one(
        &py,
        &a,
        "SELECT count(*), sum(video_in_bytes) FROM 'peers.parquet'",
    );
    assert_eq!(u(&got[0]), peers.len() as u64);
    assert_eq!(u(&got[1]), sum_u(peers, "video_in_bytes"));
    let flows = std::fs::read_to_string(a.join("flows.ndjson"))
        .unwrap()
        .lines()
        .count();
    let got = one(&py, &a, "SELECT count(*) FROM 'flows.parquet'");
    assert_eq!(u(&got[0]), flows as u64);

    let got = one(
        &py,
        &g,
        "SELECT count(*), sum(down_kbps), sum(suppliers), count(continuity), count(application), min(run), bool_or(estimated) FROM 'clients.parquet'",
    );
    assert_eq!(u(&got[0]), 3);
    assert!(close(f(&got[1]), 412.5 + 288.0 + 1500.0), "{}", got[1]);
    assert_eq!(u(&got[2]), 6);
    assert_eq!(u(&got[3]), 2);
    assert_eq!(u(&got[4]), 2);
    assert_eq!(got[5], "gateway");
    assert_eq!(got[6], true);
    // down_kbps mixes 412.5 and 1500: a DOUBLE column, not text.
    let t = one(
        &py,
        &g,
        "SELECT typeof(down_kbps), typeof(suppliers), typeof(ip) FROM 'clients.parquet' LIMIT 1",
    );
    assert_eq!(t, vec!["DOUBLE", "BIGINT", "VARCHAR"]);

    // A directory with nothing to export is unusable input.
    let empty = base.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = bin().arg("export").arg(&empty).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn issue17_compare_export_parquet_runs_and_nodes() {
    let Some(py) = duckdb_python("issue17_compare_export_parquet_runs_and_nodes") else {
        return;
    };
    let base = tmp("pq-compare");
    let lab = base.join("lab");
    let out = bin()
        .args([
            "simulate",
            "--lab",
            "--receivers",
            "2",
            "--duration",
            "40s",
            "-o",
        ])
        .arg(&lab)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let truth = json(&lab.join("lab.truth.json"));
    let mut args: Vec<String> = Vec::new();
    for n in truth["nodes"].as_array().unwrap() {
        args.push("--node".into());
        args.push(format!(
            "{}={}",
            n["name"].as_str().unwrap(),
            lab.join(n["file"].as_str().unwrap()).display()
        ));
    }
    args.push("--run".into());
    args.push(format!("380kbps={}", capture("sopcast-sim-starved.pcap")));
    let dir = base.join("cmp");
    let out = bin()
        .arg("compare")
        .args(&args)
        .arg("-o")
        .arg(&dir)
        .args(["--export", "parquet", "-q"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let c = json(&dir.join("compare.json"));
    let nodes = c["nodes"].as_array().unwrap();
    let got = one(
        &py,
        &dir,
        "SELECT count(*), sum(video_download_kbps), count(playback_delay_median_s), min(run) FROM 'nodes.parquet'",
    );
    assert_eq!(u(&got[0]), nodes.len() as u64);
    let want: f64 = nodes.iter().map(|n| f(&n["video"]["download_kbps"])).sum();
    assert!(close(f(&got[1]), want), "{} vs {want}", got[1]);
    let delays = nodes
        .iter()
        .filter(|n| !n["playback_delay"]["median_s"].is_null())
        .count();
    assert_eq!(u(&got[2]), delays as u64);
    assert_eq!(got[3], "cmp");
    let runs = c["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let got = one(
        &py,
        &dir,
        "SELECT count(*), max(label), max(input_kbps), max(continuity) FROM 'runs.parquet'",
    );
    assert_eq!(u(&got[0]), 1);
    assert_eq!(got[1], "380kbps");
    assert!(close(f(&got[2]), 380.0));
    assert_eq!(got[3], runs[0]["continuity"]);
    let _ = std::fs::remove_dir_all(&base);
}

/// The README's campaign: the bundled captures analysed into campaign/<name>/, then
/// scripts/campaign.sql — which the README shows verbatim — run as it is, and its answers
/// checked against the reports.
#[test]
fn issue17_readme_campaign_query_runs_as_written() {
    let sql = std::fs::read_to_string(root().join("scripts/campaign.sql")).unwrap();
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(
        readme.contains(&format!("```sql\n{sql}```")),
        "README.md must include scripts/campaign.sql verbatim in a ```sql block"
    );
    let Some(py) = duckdb_python("issue17_readme_campaign_query_runs_as_written") else {
        return;
    };
    let base = tmp("pq-campaign");
    let names = [
        "sopcast-sim-any.pcap",
        "sopcast-sim-eth.pcapng",
        "sopcast-sim-starved.pcap",
        "ndpi__pps.pcap",
    ];
    let mut reports = Vec::new();
    for name in names {
        let stem = name.split('.').next().unwrap();
        let dir = base.join("campaign").join(stem);
        analyze_into(&dir, &capture(name), &["--export", "parquet"]);
        reports.push((stem.to_string(), json(&dir.join("report.json"))));
    }
    let file = root().join("scripts/campaign.sql");
    let sets = query(&py, &base, &["--file", file.to_str().unwrap()]);
    assert_eq!(sets.len(), 2);

    // Mean continuity per application and verdict.
    let mut groups: std::collections::BTreeMap<(String, String), (u64, Vec<f64>)> =
        Default::default();
    for (_, r) in &reports {
        let key = (
            r["application"]["name"].as_str().unwrap().to_string(),
            r["verdict"]["kind"].as_str().unwrap().to_string(),
        );
        let e = groups.entry(key).or_default();
        e.0 += 1;
        if let Some(c) = r["continuity"]["index"].as_f64() {
            e.1.push(c);
        }
    }
    assert_eq!(sets[0].len(), groups.len());
    for (row, ((app, verdict), (n, cs))) in sets[0].iter().zip(&groups) {
        assert_eq!(row[0], app.as_str());
        assert_eq!(row[1], verdict.as_str());
        assert_eq!(u(&row[2]), *n);
        if cs.is_empty() {
            assert!(row[3].is_null());
        } else {
            let mean = cs.iter().sum::<f64>() / cs.len() as f64;
            assert!(
                (f(&row[3]) - mean).abs() < 1e-4,
                "{app}: {} vs {mean}",
                row[3]
            );
        }
    }

    // The top suppliers across runs.
    let mut by_ip: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
    for (_, r) in &reports {
        for p in r["peers"]["list"].as_array().unwrap() {
            if p["role"] == "supplier" {
                let e = by_ip
                    .entry(p["ip"].as_str().unwrap().to_string())
                    .or_default();
                e.0 += 1;
                e.1 += u(&p["video_in_bytes"]);
            }
        }
    }
    let mut top: Vec<(&String, &(u64, u64))> = by_ip.iter().collect();
    top.sort_by(|a, b| b.1 .1.cmp(&a.1 .1).then(a.0.cmp(b.0)));
    top.truncate(5);
    assert_eq!(sets[1].len(), top.len());
    for (row, (ip, (runs, bytes))) in sets[1].iter().zip(top) {
        assert_eq!(row[0], ip.as_str());
        assert_eq!(u(&row[1]), *runs);
        assert_eq!(u(&row[2]), *bytes);
    }
    let _ = std::fs::remove_dir_all(&base);
}
