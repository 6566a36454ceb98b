//! The web console clicked through in Debian's chromium, against the real binary:
//! sign in, the landing page's bars, allocate 800 then 200 with the confirmation
//! step and download the files, the over-allocation message beside its field,
//! modify and download, return with its confirmation, hide and unhide, the
//! history's actors, a bulk selection refused as incompatible, the CSV export,
//! asset components, the usage chart, the as-of picker and the integrity badge.
//! `bash deploy/console-test.sh` runs it alone.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use ledger_tests::ledger_bin;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_runs_the_portal_story_in_the_console() {
    let screenshots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("console");
    let story = ledger_tests::console::run(ledger_bin!(), &screenshots)
        .await
        .unwrap();
    println!("{}", story.output);
    println!(
        "console story: {:.1} s; screenshots in {}; the ledger's log is {}",
        story.elapsed.as_secs_f64(),
        story.screenshots.display(),
        story.ledger_log.display()
    );
    assert!(story.passed, "the console story failed:\n{}", story.output);
    assert!(screenshots.join("landing.png").is_file());
}
