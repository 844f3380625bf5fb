//! `contracts`: the command line for Sagaway's contracts, used by CI and by operators.
//!
//! ```text
//! contracts register [--registry URL]
//!     Registers every saga event schema under its TopicRecordNameStrategy subject.
//! contracts check [--root DIR] (--against DIR | --against git:REV | --registry URL) [--level LEVEL]
//!     Compares avro/ (and, offline, proto/) under --root (default: .) with an earlier version:
//!     another checkout, a git revision, or what a registry holds (at each subject's level).
//!     Offline, Avro is checked at --level (default FULL_TRANSITIVE against the one earlier
//!     version, i.e. FULL). Exits 1 with a report when something would break a consumer.
//! ```
//! The registry URL defaults to `SAGAWAY_SCHEMA_REGISTRY_URL`, else `http://127.0.0.1:8081`.

#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use sagaway_contracts::avro;
use sagaway_contracts::check::{self, AvroSet, Problem};
use sagaway_contracts::compat::CompatibilityLevel;
use sagaway_contracts::events::EventType;
use sagaway_contracts::registry::RegistryClient;

const USAGE: &str = "usage:
  contracts register [--registry URL]
  contracts check [--root DIR] (--against DIR | --against git:REV | --registry URL) [--level LEVEL]";

#[derive(Debug, Default)]
struct Args {
    command: String,
    root: Option<PathBuf>,
    against: Option<String>,
    registry: Option<String>,
    level: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut raw = std::env::args().skip(1);
    let mut args = Args {
        command: raw.next().ok_or("no command given")?,
        ..Args::default()
    };
    while let Some(flag) = raw.next() {
        let mut value = || raw.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--root" => args.root = Some(PathBuf::from(value()?)),
            "--against" => args.against = Some(value()?),
            "--registry" => args.registry = Some(value()?),
            "--level" => args.level = Some(value()?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(reason) => {
            eprintln!("{reason}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let registry = args
        .registry
        .clone()
        .or_else(|| std::env::var("SAGAWAY_SCHEMA_REGISTRY_URL").ok())
        .unwrap_or_else(|| "http://127.0.0.1:8081".to_owned());
    let outcome = match args.command.as_str() {
        "register" => register(&registry).await,
        "check" => run_check(&args, &registry).await,
        other => Err(format!("unknown command {other}\n{USAGE}")),
    };
    match outcome {
        Ok(code) => code,
        Err(reason) => {
            eprintln!("contracts: {reason}");
            ExitCode::from(2)
        }
    }
}

async fn register(url: &str) -> Result<ExitCode, String> {
    let client = RegistryClient::new(url);
    let mut failed = 0;
    for event in EventType::ALL {
        let subject = event.subject();
        match client
            .register(&subject, avro::registered_json(event))
            .await
        {
            Ok(id) => eprintln!("registered {subject} -> id {id}"),
            Err(err) => {
                failed += 1;
                eprintln!("FAILED {subject}: {}", chain(&err));
            }
        }
    }
    let total = EventType::ALL.len();
    eprintln!("{} of {total} schemas registered at {url}", total - failed);
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn run_check(args: &Args, registry: &str) -> Result<ExitCode, String> {
    let root = args.root.clone().unwrap_or_else(|| PathBuf::from("."));
    let new = AvroSet::from_dir(&root.join("avro")).map_err(|err| err.to_string())?;
    let mut problems = Vec::new();
    let baseline;
    match args.against.as_deref() {
        Some(against) => {
            let level: CompatibilityLevel = args
                .level
                .as_deref()
                .unwrap_or("FULL_TRANSITIVE")
                .parse()
                .map_err(|err| format!("--level: {err}"))?;
            let (dir, temporary) = match against.strip_prefix("git:") {
                Some(rev) => (export_revision(&root, rev)?, true),
                None => (PathBuf::from(against), false),
            };
            baseline = format!("{against} (Avro at {level}, proto at WIRE)");
            let result = offline(&dir, &root, level);
            if temporary {
                let _ = std::fs::remove_dir_all(&dir);
            }
            problems.extend(result?);
        }
        None => {
            baseline = format!("the registry at {registry} (each subject at its own level)");
            problems.extend(online(&new, registry).await?);
        }
    }
    Ok(report(&problems, &new, &baseline))
}

fn offline(
    old_root: &Path,
    new_root: &Path,
    level: CompatibilityLevel,
) -> Result<Vec<Problem>, String> {
    let mut problems = Vec::new();
    let old_avro = old_root.join("avro");
    if old_avro.is_dir() {
        let old = AvroSet::from_dir(&old_avro).map_err(|err| err.to_string())?;
        let new = AvroSet::from_dir(&new_root.join("avro")).map_err(|err| err.to_string())?;
        problems.extend(check::check_avro(&old, &new, level));
    }
    let old_proto = old_root.join("proto");
    if old_proto.is_dir() {
        problems.extend(
            check::check_proto(&old_proto, &new_root.join("proto"))
                .map_err(|err| err.to_string())?,
        );
    }
    Ok(problems)
}

async fn online(new: &AvroSet, registry: &str) -> Result<Vec<Problem>, String> {
    let client = RegistryClient::new(registry);
    let mut problems = Vec::new();
    for (subject, (file, text)) in &new.schemas {
        let compact = serde_json::from_str::<serde_json::Value>(text)
            .map(|v| v.to_string())
            .unwrap_or_else(|_| text.clone());
        let reasons = client
            .check_compatibility(subject, &compact)
            .await
            .map_err(|err| chain(&err))?;
        problems.extend(reasons.into_iter().map(|reason| Problem {
            subject: subject.clone(),
            level: "registry".to_owned(),
            location: file.clone(),
            reason,
            breaking: true,
        }));
    }
    Ok(problems)
}

/// Writes `avro/` and `proto/` as they were at `rev` into a temporary directory.
fn export_revision(root: &Path, rev: &str) -> Result<PathBuf, String> {
    let git = |args: &[&str]| -> Result<Vec<u8>, String> {
        let output = Command::new("git")
            .arg("-C")
            .arg(root)
            .args(args)
            .output()
            .map_err(|err| format!("running git: {err}"))?;
        if output.status.success() {
            Ok(output.stdout)
        } else {
            Err(format!(
                "git {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            ))
        }
    };
    let listing = git(&["ls-tree", "-r", "--name-only", rev, "--", "avro", "proto"])?;
    let dir = std::env::temp_dir().join(format!(
        "contracts-check-{}-{}",
        std::process::id(),
        rev.replace(['/', '~', '^'], "_")
    ));
    for path in String::from_utf8_lossy(&listing).lines() {
        let content = git(&["show", &format!("{rev}:{path}")])?;
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|err| format!("creating {}: {err}", parent.display()))?;
        }
        std::fs::write(&target, content)
            .map_err(|err| format!("writing {}: {err}", target.display()))?;
    }
    std::fs::create_dir_all(&dir).map_err(|err| format!("creating {}: {err}", dir.display()))?;
    Ok(dir)
}

fn report(problems: &[Problem], new: &AvroSet, baseline: &str) -> ExitCode {
    let breaking = problems.iter().filter(|p| p.breaking).count();
    println!(
        "contracts check: {} Avro subjects against {baseline}",
        new.schemas.len()
    );
    for problem in problems {
        println!("  {problem}");
    }
    if breaking == 0 {
        println!(
            "OK: no change breaks a consumer ({} warnings)",
            problems.len()
        );
        ExitCode::SUCCESS
    } else {
        println!(
            "FAILED: {breaking} breaking change(s). Make the change compatible (add fields with defaults, reserve removed field numbers, keep RPCs), or version the contract."
        );
        ExitCode::FAILURE
    }
}

/// An error with its causes, for a person reading the terminal.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
