//! Scheduling: tenants share the workers fairly, and concurrent workers
//! decide every image exactly once.

use std::time::{Duration, Instant};

use airlock_store::ImageState;

use crate::{Stack, count};

#[tokio::test]
async fn a_small_tenant_is_not_starved_by_a_big_one() {
    let stack = Stack::new().await;
    let mut a = Vec::new();
    for n in 0..20 {
        let pushed = stack
            .push_image(
                "unscanned/acme/app",
                Some(&format!("{n}")),
                &format!("a{n}"),
            )
            .await;
        a.push(pushed.digest);
    }
    let b = stack
        .push_image("unscanned/globex/app", Some("1.0"), "b")
        .await;
    let b_image = stack.image("unscanned/globex/app", &b.digest).await;

    let order = stack.settle().await;
    assert_eq!(order.len(), 21);
    let position = order
        .iter()
        .position(|id| *id == b_image.id)
        .expect("b was decided");
    assert!(
        position <= 2,
        "globex's image was decided {}th of 21",
        position + 1
    );
    assert_eq!(
        stack.image("unscanned/globex/app", &b.digest).await.state,
        ImageState::Promoted
    );
    for digest in &a {
        assert_eq!(
            stack.image("unscanned/acme/app", digest).await.state,
            ImageState::Promoted
        );
    }
}

#[tokio::test]
async fn concurrent_workers_decide_each_image_once() {
    let stack = Stack::new().await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut workers = Vec::new();
    for n in 0..3 {
        let mut stopped = stopped.clone();
        workers.push(tokio::spawn(stack.gate.clone().run_worker(
            format!("w{n}"),
            async move {
                let _ = stopped.wait_for(|s| *s).await;
            },
        )));
    }
    let mut pushed = Vec::new();
    for n in 0..10 {
        let tenant = if n % 2 == 0 { "acme" } else { "globex" };
        let repository = format!("unscanned/{tenant}/app{n}");
        let image = stack
            .push_image(&repository, Some("1.0"), &format!("c{n}"))
            .await;
        pushed.push((repository, image.digest));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut done = 0;
        for (repository, digest) in &pushed {
            done += usize::from(stack.image(repository, digest).await.state.is_terminal());
        }
        if done == pushed.len() && stack.db_pending().await == 0 {
            break;
        }
        if Instant::now() >= deadline {
            let mut states = Vec::new();
            for (repository, digest) in &pushed {
                let image = stack.image(repository, digest).await;
                states.push(format!("{repository}: {:?}", stack.states(&image).await));
            }
            panic!(
                "only {done} of 10 decided, {} jobs pending:\n{}",
                stack.db_pending().await,
                states.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.send(true).unwrap();
    for worker in workers {
        worker.await.unwrap();
    }

    for (repository, digest) in &pushed {
        let image = stack.image(repository, digest).await;
        assert_eq!(image.state, ImageState::Promoted, "{repository}");
        let states = stack.states(&image).await;
        assert_eq!(
            states.iter().filter(|s| s.is_terminal()).count(),
            1,
            "{repository}: {states:?}"
        );
        let types = stack.event_types(digest).await;
        assert_eq!(count(&types, "airlock.image.promoted"), 1, "{types:?}");
        assert_eq!(count(&types, "airlock.scan.started"), 1, "{types:?}");
        assert_eq!(stack.runner.calls(digest), 1, "{repository} scanned once");
        let scanned = repository.replacen("unscanned/", "scanned/", 1);
        assert_eq!(
            stack.resolve(&scanned, &crate::tag("1.0")).await,
            Some(digest.clone())
        );
    }
}
