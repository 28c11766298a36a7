//! A minimal driver for trying the library by hand:
//! `cargo run --release -p loadgen --example load -- URL [conns] [threads] [duration] [rate]`.
//! The real command line is `lab load`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let url = args
        .first()
        .map_or("http://127.0.0.1:8080/", String::as_str);
    let mut config = loadgen::Config::for_url(url)?;
    if let Some(n) = args.get(1) {
        config.conns = n.parse()?;
    }
    if let Some(n) = args.get(2) {
        config.threads = n.parse()?;
    }
    if let Some(d) = args.get(3) {
        config.duration = loadgen::parse_duration(d)?;
    }
    if let Some(r) = args.get(4) {
        config.rate = Some(r.parse()?);
    }
    let report = loadgen::run(&config)?;
    print!("{}", report.summary());
    if std::env::var_os("LOADGEN_JSON").is_some() {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(())
}
