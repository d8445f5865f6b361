//! Section 1: one `tools/call` through each path at 1 and 16 clients, with the targets for a hop.

use crate::load::{Samples, Summary, Target, round};

/// The targets: Gatehouse's throughput close to nginx's, and little added latency at one client.
const THROUGHPUT_VS_NGINX: f64 = 0.9;
const ADDED_P50_MS: f64 = 0.15;
const ADDED_P99_MS: f64 = 0.5;

pub struct Plan {
    /// Requests per client per round at 1 client; 16 clients send a quarter of it each.
    pub n: usize,
    pub rounds: usize,
    pub nginx_workers: usize,
    pub nginx_version: String,
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT MET" }
}

/// `paths` are direct, nginx, relay, Gatehouse, in that order.
pub async fn run(http: &reqwest::Client, paths: &[Target; 4], plan: &Plan) -> anyhow::Result<()> {
    println!();
    println!("== 1. One hop: direct, nginx, bare relay, Gatehouse ==");
    println!(
        "Method: the upstream (axum, in this process) answers tools/call with a small JSON result. \
         Four paths reach it over HTTP/1.1 keep-alive on 127.0.0.1: direct; {} with proxy_pass to an \
         upstream block with keepalive 64, proxy_http_version 1.1, Connection \"\", proxy_buffering \
         and proxy_request_buffering off, worker_processes {} (one per CPU, as many as gatehoused's \
         tokio workers), access_log off; a bare axum+reqwest relay with no checks (this program \
         started again as its own process); and Gatehouse (`gatehoused serve`, release, its own \
         process: bearer check (the token's row read from the store once, then kept until the \
         store's next commit), header allow-list, credential injection, streaming relay over \
         hyper's client for a loopback upstream). C client tasks share one keep-alive client and each send N sequential \
         POSTs after a warm-up of 200; latency is send to last byte, throughput is requests / wall \
         time of the round; hop CPU is the user + system time of the hop's process (nginx: master \
         and workers) during the rounds, from /proc/<pid>/stat in 10 ms ticks, per request; hop \
         switches are its threads' context switches (voluntary + involuntary, from \
         /proc/<pid>/task/*/status) per request: how often the hop sleeps and is woken (an event \
         loop that answers one request at a time sleeps at least twice: for the client's request \
         and for the upstream's answer). Each of {} rounds runs the four paths one after the other, the order \
         rotated each round so that drift hits all alike; percentiles pool the rounds. Client, \
         upstream and hop share the machine's cores, so every path pays for the load generator.",
        plan.nginx_version, plan.nginx_workers, plan.rounds
    );
    for clients in [1usize, 16] {
        let per_client = if clients == 1 {
            plan.n
        } else {
            (plan.n / 4).max(50)
        };
        for path in paths {
            round(http, path, clients, 200.min(per_client)).await?;
        }
        let mut samples: [Samples; 4] = Default::default();
        for r in 0..plan.rounds {
            for k in 0..paths.len() {
                let i = (k + r) % paths.len();
                samples[i].add(round(http, &paths[i], clients, per_client).await?);
            }
        }
        let s: Vec<Summary> = samples.iter_mut().map(Samples::summary).collect();
        let direct = s[0];
        println!();
        println!(
            "{clients} client(s), {} requests per path ({} rounds x {clients} x {per_client}):",
            s[0].requests, plan.rounds
        );
        println!(
            "  {:<12} {:>9} {:>9} {:>10} {:>10} {:>10} {:>9} {:>13} {:>9}",
            "path",
            "p50 ms",
            "p99 ms",
            "+p50 ms",
            "+p99 ms",
            "req/s",
            "of direct",
            "hop CPU us/req",
            "switches"
        );
        for (path, x) in paths.iter().zip(&s) {
            let (cpu, switches) = match path.hop_pid {
                Some(_) => (
                    format!("{:.1}", x.hop_cpu_us),
                    format!("{:.2}", x.hop_switches),
                ),
                None => ("-".to_owned(), "-".to_owned()),
            };
            println!(
                "  {:<12} {:>9.3} {:>9.3} {:>10.3} {:>10.3} {:>10.0} {:>8.1}% {:>13} {:>9}",
                path.name,
                x.p50,
                x.p99,
                x.p50 - direct.p50,
                x.p99 - direct.p99,
                x.rps,
                100.0 * x.rps / direct.rps,
                cpu,
                switches
            );
        }
        let (nginx, gatehouse) = (s[1], s[3]);
        let ratio = gatehouse.rps / nginx.rps;
        println!(
            "  Gatehouse / nginx throughput: {ratio:.2} (target >= {THROUGHPUT_VS_NGINX}: {})",
            verdict(ratio >= THROUGHPUT_VS_NGINX)
        );
        if clients == 1 {
            let (added50, added99) = (gatehouse.p50 - direct.p50, gatehouse.p99 - direct.p99);
            println!(
                "  Gatehouse overhead vs direct: p50 +{added50:.3} ms (target <= {ADDED_P50_MS} ms: {}), \
                 p99 +{added99:.3} ms (target <= {ADDED_P99_MS} ms: {})",
                verdict(added50 <= ADDED_P50_MS),
                verdict(added99 <= ADDED_P99_MS)
            );
            println!(
                "  nginx overhead vs direct:     p50 +{:.3} ms, p99 +{:.3} ms",
                nginx.p50 - direct.p50,
                nginx.p99 - direct.p99
            );
        }
    }
    Ok(())
}
