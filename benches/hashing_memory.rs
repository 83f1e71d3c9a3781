//! Memory held after a flood of password checks: quid's `Hasher` (four slots, each reusing its
//! own argon2 memory) against the baseline of the same checks done the usual way (a fresh
//! `Argon2::verify_password` on a blocking thread, four at a time), each in a process of its
//! own, since resident memory only tells what a whole process holds.
//!
//!     cargo bench --bench hashing_memory              # 24 concurrent callers, 10 checks each

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use std::process::Command;
use std::sync::Arc;

const CALLERS: usize = 24;
const CHECKS_PER_CALLER: usize = 10;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--flood-hasher") {
        return flood(true).await;
    }
    if args.iter().any(|a| a == "--flood-fresh") {
        return flood(false).await;
    }
    let fresh = child("--flood-fresh")?;
    let pooled = child("--flood-hasher")?;
    println!("{CALLERS} callers x {CHECKS_PER_CALLER} password checks, 4 at a time");
    println!("fresh argon2 memory per check (baseline): {fresh:.0} MiB resident after");
    println!("quid Hasher, memory reused per slot:      {pooled:.0} MiB resident after");
    println!(
        "ratio quid / baseline:                    {:.2}",
        pooled / fresh
    );
    Ok(())
}

/// Runs this binary with `flag` and reads the MiB it reports.
fn child(flag: &str) -> anyhow::Result<f64> {
    let output = Command::new(std::env::current_exe()?).arg(flag).output()?;
    let text = String::from_utf8(output.stdout)?;
    text.trim()
        .parse()
        .map_err(|e| anyhow::anyhow!("{flag} printed {text:?}: {e}"))
}

async fn flood(pooled: bool) -> anyhow::Result<()> {
    let stored = argon2::Argon2::default()
        .hash_password(b"the right one")?
        .to_string();
    let hasher = Arc::new(quid::server::hashing::Hasher::default());
    let slots = Arc::new(tokio::sync::Semaphore::new(quid::server::hashing::SLOTS));
    let mut callers = Vec::new();
    for _ in 0..CALLERS {
        let (stored, hasher, slots) = (stored.clone(), Arc::clone(&hasher), Arc::clone(&slots));
        callers.push(tokio::spawn(async move {
            for _ in 0..CHECKS_PER_CALLER {
                if pooled {
                    let _ = hasher.verify("wrong".into(), Some(stored.clone())).await;
                } else {
                    let _slot = slots.acquire().await;
                    let stored = stored.clone();
                    let _ = tokio::task::spawn_blocking(move || {
                        argon2::password_hash::phc::PasswordHash::new(&stored)
                            .map(|hash| argon2::Argon2::default().verify_password(b"wrong", &hash))
                    })
                    .await;
                }
            }
        }));
    }
    for caller in callers {
        caller.await?;
    }
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no VmRSS"))?;
    println!("{}", kib / 1024.0);
    Ok(())
}
