//! Many loaders, one report: [`merge`] adds up the reports of load generators that ran at the same
//! time against one server (`lab load --start-at T` on several machines), the way `lab merge` does.
//!
//! Counts add up. Latency percentiles do not: the p99 of two runs is not the mean (nor the max) of
//! their p99s. So every report carries its HDR histograms, and these are added bucket by bucket,
//! which is exact; the merged percentiles are read from the sum. The one figure that cannot be
//! merged exactly is a timeline second's `p99_us` (no histogram is kept per second): the merged
//! second has the largest of the loaders' p99s, an upper bound on the true one.

use serde::{Deserialize, Serialize};

use crate::report::{
    decode_histogram, encode_histogram, Connections, Errors, Host, Latency, LoadReport as Report,
    Second,
};

/// `lab merge`'s output: the total, then each loader's own report as it was given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Merged {
    #[serde(flatten)]
    pub total: Report,
    pub loaders: Vec<Report>,
}

/// One report for the loaders that made `parts`: counts summed, histograms added exactly,
/// timelines summed second by second. An error names the part (from 1) that cannot be merged.
///
/// A field added to [`Report`] gets its merge rule here; the compiler lists this function among
/// the places to change because the total is built field by field.
pub fn merge(parts: &[Report]) -> Result<Report, String> {
    let first = parts.first().ok_or("nothing to merge")?;
    let mut warnings = Vec::new();
    let all_same = |f: &dyn Fn(&Report) -> String| parts.iter().all(|p| f(p) == f(first));

    // Latency: the histograms, added exactly.
    let sum_of = |name: &str, get: &dyn Fn(&Report) -> Option<&str>| {
        let mut total = None::<hdrhistogram::Histogram<u64>>;
        for (i, part) in parts.iter().enumerate() {
            let text = get(part).filter(|t| !t.is_empty());
            let Some(h) = text.and_then(decode_histogram) else {
                return Err(format!("report {}: no readable {name}", i + 1));
            };
            match &mut total {
                None => total = Some(h),
                Some(t) => t
                    .add(&h)
                    .map_err(|e| format!("report {}: {name} cannot be added: {e:?}", i + 1))?,
            }
        }
        Ok(total)
    };
    let latency = sum_of("histogram", &|p| Some(&p.histogram))?.ok_or("nothing to merge")?;
    let uncorrected = if parts.iter().all(|p| p.uncorrected_histogram.is_some()) {
        sum_of("uncorrected_histogram", &|p| {
            p.uncorrected_histogram.as_deref()
        })?
    } else {
        if parts.iter().any(|p| p.rate.is_some()) {
            warnings.push("latency_uncorrected_us not merged: some reports lack it".to_string());
        }
        None
    };
    let connect = match sum_of("connect_histogram", &|p| Some(&p.connect_histogram)) {
        Ok(h) => h,
        Err(e) => {
            warnings.push(format!("connect_us not merged: {e}"));
            None
        }
    };

    // Counts: summed.
    let mut errors = Errors::default();
    let mut connections = Connections::default();
    let mut timeline: Vec<Second> = Vec::new();
    for part in parts {
        errors.add(&part.errors);
        connections.target += part.connections.target;
        connections.established += part.connections.established;
        // The loaders' peaks need not coincide: their sum is an upper bound.
        connections.peak_open += part.connections.peak_open;
        for row in &part.timeline {
            let i = row.second as usize;
            if timeline.len() <= i {
                timeline.resize_with(i + 1, Second::default);
            }
            let t = &mut timeline[i];
            t.second = row.second;
            t.requests += row.requests;
            t.errors += row.errors;
            t.open_conns += row.open_conns;
            t.p99_us = t.p99_us.max(row.p99_us);
        }
    }
    let requests: u64 = parts.iter().map(|p| p.requests).sum();
    // Loaders started together run side by side: the total lasted as long as the longest.
    let duration_s = parts.iter().map(|p| p.duration_s).fold(0.0, f64::max);
    let rate = if parts.iter().all(|p| p.rate.is_some()) {
        Some(parts.iter().filter_map(|p| p.rate).sum())
    } else {
        if parts.iter().any(|p| p.rate.is_some()) {
            warnings.push("some loaders ran open loop (--rate) and some closed".to_string());
        }
        None
    };

    // What identifies the run: the same everywhere, or said not to be.
    if !all_same(&|p| p.url.clone()) {
        let urls: Vec<&str> = parts.iter().map(|p| p.url.as_str()).collect();
        warnings.push(format!(
            "the loaders loaded different URLs: {}",
            urls.join(", ")
        ));
    }
    let start_at = match first.start_at {
        Some(t) if parts.iter().all(|p| p.start_at == Some(t)) => Some(t),
        _ => {
            warnings.push(
                "the loaders did not share one --start-at: their timelines may not line up"
                    .to_string(),
            );
            None
        }
    };
    let mut kernels: Vec<&str> = parts.iter().map(|p| p.host.kernel.as_str()).collect();
    kernels.dedup();
    for (i, part) in parts.iter().enumerate() {
        let name = part
            .tag
            .clone()
            .unwrap_or_else(|| format!("report {}", i + 1));
        warnings.extend(part.warnings.iter().map(|w| format!("{name}: {w}")));
    }

    // Per-connection service: the counts add up exactly; the median, Jain's index and the time to
    // first response need every loader's per-connection counts, which a report does not keep, so
    // the merged report carries the worst loader's figure and says so.
    let mut service = lab_schema::Service::default();
    for (i, part) in parts.iter().enumerate() {
        let p = &part.service;
        service.served += p.served;
        service.starved += p.starved;
        service.per_conn_min = if i == 0 {
            p.per_conn_min
        } else {
            service.per_conn_min.min(p.per_conn_min)
        };
        service.per_conn_max = service.per_conn_max.max(p.per_conn_max);
        service.per_conn_median = if i == 0 {
            p.per_conn_median
        } else {
            service.per_conn_median.min(p.per_conn_median)
        };
        service.fairness = if i == 0 {
            p.fairness
        } else {
            service.fairness.min(p.fairness)
        };
        service.first_response_us.p50 = service.first_response_us.p50.max(p.first_response_us.p50);
        service.first_response_us.p99 = service.first_response_us.p99.max(p.first_response_us.p99);
    }
    if parts.iter().filter(|p| p.service.served > 0).count() > 1 {
        warnings.push(
            "service: per_conn_median, fairness and first_response_us are the worst loader's, \
             not an exact merge"
                .to_string(),
        );
    }
    let send_lag_us = if parts.iter().any(|p| p.send_lag_us.is_some()) {
        warnings
            .push("send_lag_us: the worst loader's (no histogram is kept to merge)".to_string());
        parts
            .iter()
            .filter_map(|p| p.send_lag_us)
            .max_by_key(|l| l.p99)
    } else {
        None
    };

    // The loaders' threads side by side (each loader on machines of its own), when every loader
    // measured its threads.
    let loader = parts
        .iter()
        .map(|p| p.loader.clone())
        .collect::<Option<Vec<_>>>()
        .map(|loaders| lab_schema::Loader {
            on_cpu: loaders.iter().flat_map(|l| l.on_cpu.clone()).collect(),
            waiting: loaders.iter().flat_map(|l| l.waiting.clone()).collect(),
        });

    Ok(Report {
        schema_version: lab_schema::SCHEMA_VERSION,
        planned_s: parts.iter().map(|p| p.planned_s).fold(0.0, f64::max),
        interrupted: parts.iter().any(|p| p.interrupted),
        send_lag_us,
        service,
        url: first.url.clone(),
        conns: parts.iter().map(|p| p.conns).sum(),
        threads: parts.iter().map(|p| p.threads).sum(),
        rate,
        duration_s,
        requests,
        throughput_rps: if duration_s > 0.0 {
            requests as f64 / duration_s
        } else {
            0.0
        },
        latency_us: Latency::from_histogram(&latency),
        latency_uncorrected_us: uncorrected.as_ref().map(Latency::from_histogram),
        connect_us: connect
            .as_ref()
            .map(Latency::from_histogram)
            .unwrap_or_default(),
        errors,
        connections,
        timeline,
        histogram: encode_histogram(&latency),
        uncorrected_histogram: uncorrected.as_ref().map(encode_histogram),
        connect_histogram: connect.as_ref().map(encode_histogram).unwrap_or_default(),
        tag: None,
        start_at,
        host: Host {
            cores: parts.iter().map(|p| p.host.cores).sum(),
            kernel: kernels.join(", "),
        },
        warnings,
        loader,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::histogram;

    fn part(values: &[u64], start_at: Option<f64>, tag: &str) -> Report {
        let mut h = histogram();
        for &v in values {
            h.record(v).unwrap();
        }
        Report {
            schema_version: lab_schema::SCHEMA_VERSION,
            planned_s: 2.0,
            interrupted: false,
            send_lag_us: None,
            service: lab_schema::Service::default(),
            url: "http://10.0.0.1:8080/".into(),
            conns: 10,
            threads: 1,
            rate: None,
            duration_s: 2.0,
            requests: values.len() as u64,
            throughput_rps: values.len() as f64 / 2.0,
            latency_us: Latency::from_histogram(&h),
            latency_uncorrected_us: None,
            connect_us: Latency::from_histogram(&h),
            errors: Errors {
                timeout: 1,
                ..Errors::default()
            },
            connections: Connections {
                target: 10,
                established: 10,
                peak_open: 10,
            },
            timeline: vec![
                Second {
                    second: 0,
                    requests: 1,
                    errors: 0,
                    p99_us: values[0],
                    open_conns: 10,
                },
                Second {
                    second: 1,
                    requests: values.len() as u64 - 1,
                    errors: 1,
                    p99_us: values[values.len() - 1],
                    open_conns: 10,
                },
            ],
            histogram: encode_histogram(&h),
            uncorrected_histogram: None,
            connect_histogram: encode_histogram(&h),
            tag: Some(tag.into()),
            start_at,
            host: Host {
                cores: 2,
                kernel: "6.1".into(),
            },
            warnings: vec![],
            loader: Some(lab_schema::Loader {
                on_cpu: vec![0.5],
                waiting: vec![0.1],
            }),
        }
    }

    #[test]
    fn histograms_add_exactly_and_counts_sum() {
        let a = part(&[100, 200, 300], Some(5.0), "a");
        let b = part(&[10_000, 20_000], Some(5.0), "b");
        let m = merge(&[a.clone(), b.clone()]).unwrap();
        assert_eq!(m.requests, 5);
        // Each loader's threads, side by side.
        let loader = m
            .loader
            .as_ref()
            .expect("both loaders measured their threads");
        assert_eq!(loader.on_cpu, vec![0.5, 0.5]);
        assert_eq!(loader.waiting, vec![0.1, 0.1]);
        let mut unmeasured = b.clone();
        unmeasured.loader = None;
        assert_eq!(merge(&[a.clone(), unmeasured]).unwrap().loader, None);
        assert_eq!(m.conns, 20);
        assert_eq!(m.errors.timeout, 2);
        assert_eq!(m.connections.established, 20);
        let h = decode_histogram(&m.histogram).unwrap();
        assert_eq!(h.len(), 5);
        // The true median of all five (300), not a mean of the two medians.
        assert_eq!(m.latency_us.p50, h.value_at_quantile(0.5));
        assert!(m.latency_us.p50 >= 300 && m.latency_us.p50 < 301);
        assert_eq!(m.latency_us.max, h.max());
        assert_eq!(m.timeline.len(), 2);
        assert_eq!(m.timeline[1].requests, 2 + 1);
        assert_eq!(m.timeline[1].errors, 2);
        assert_eq!(m.timeline[1].p99_us, 20_000);
        assert_eq!(m.start_at, Some(5.0));
        assert_eq!(m.host.cores, 4);
        assert_eq!(m.throughput_rps, 2.5);
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);

        let c = part(&[1], Some(6.0), "c");
        let m = merge(&[a, c]).unwrap();
        assert_eq!(m.start_at, None);
        assert!(m.warnings.iter().any(|w| w.contains("--start-at")));
    }

    #[test]
    fn an_unreadable_histogram_is_named() {
        let mut a = part(&[1], None, "a");
        a.histogram = "x".into();
        let e = merge(&[part(&[1], None, "b"), a]).unwrap_err();
        assert!(e.contains("report 2"), "{e}");
        assert!(merge(&[]).is_err());
    }
}
