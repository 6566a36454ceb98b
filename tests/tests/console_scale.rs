//! The web console on one large account, in Debian's chromium, against the real
//! binary: see tests/console/scale.mjs for what it checks.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use ledger_tests::ledger_bin;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_stays_usable_on_an_account_of_25000_licenses() {
    let screenshots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-scale");
    let (run, seeded) = ledger_tests::console::run_large(ledger_bin!(), &screenshots)
        .await
        .unwrap();
    println!(
        "seeded {} licenses ({} hidden, {} new, {} expiring within 90 days) in {:.1} s",
        seeded.licenses,
        seeded.hidden,
        seeded.new,
        seeded.expiring,
        seeded.took.as_secs_f64()
    );
    println!("{}", run.output);
    println!(
        "console scale run: {:.1} s; screenshots in {}; the ledger's log is {}",
        run.elapsed.as_secs_f64(),
        run.screenshots.display(),
        run.ledger_log.display()
    );
    assert!(run.passed, "the console scale run failed:\n{}", run.output);
}
