//! `contracts`: the command line for Sagaway's contracts.
//!
//! `contracts register [--registry URL]` registers every Avro event schema under its
//! `TopicRecordNameStrategy` subject and prints the ids (`SAGAWAY_SCHEMA_REGISTRY_URL`, default
//! `http://127.0.0.1:8081`). The compatibility check comes with the registry issue.

use std::process::ExitCode;

use sagaway_contracts::avro;
use sagaway_contracts::events::EventType;
use sagaway_contracts::registry::RegistryClient;

const USAGE: &str = "usage: contracts register [--registry URL]";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut registry = std::env::var("SAGAWAY_SCHEMA_REGISTRY_URL")
        .unwrap_or_else(|_| "http://127.0.0.1:8081".into());
    let command = args.first().map(String::as_str);
    let mut rest = args.iter().skip(1);
    while let Some(arg) = rest.next() {
        match (arg.as_str(), rest.next()) {
            ("--registry", Some(url)) => registry.clone_from(url),
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    match command {
        Some("register") => register(&registry).await,
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

async fn register(url: &str) -> ExitCode {
    let client = RegistryClient::new(url);
    let mut failed = 0;
    for event in EventType::ALL {
        let subject = event.subject();
        match client
            .register(&subject, &avro::registered_json(event))
            .await
        {
            Ok(id) => eprintln!("registered {subject} -> id {id}"),
            Err(err) => {
                failed += 1;
                eprintln!("FAILED {subject}: {err}");
            }
        }
    }
    let total = EventType::ALL.len();
    eprintln!("{} of {total} schemas registered at {url}", total - failed);
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
