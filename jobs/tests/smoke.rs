mod common;
use common::*;
use lifesync_jobs::probe::ProbeJob;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke() {
    let env = Env::shared().await;
    for n in 0..10 {
        env.enqueue(ProbeJob { n, ..Default::default() }).await;
    }
    let w = env.start_worker(4);
    assert!(wait_until(Duration::from_secs(10), || async { env.done().await.len() == 10 }).await);
    w.stop().await;
    let s = env.store.stats("probe").await.unwrap();
    println!("{s:?}");
    env.cleanup().await;
}
