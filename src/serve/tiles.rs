//! The overview's tiles, counted apart from page views and kept: counted
//! once when the dashboard starts, then again when a view finds them older
//! than [`TTL`] — in the background, while that view shows the older ones
//! (stale while revalidating). Only the very first view waits for a count.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Notify;

use super::data::overview::{tiles, Tiles, TTL};
use super::{App, PageError};

/// The kept tiles and whether a count is under way.
#[derive(Default)]
pub(crate) struct TileCache {
    state: Mutex<State>,
    counted: Notify,
}

#[derive(Default)]
struct State {
    tiles: Option<(Instant, Tiles)>,
    counting: bool,
    /// The last count's failure, for the views that waited for it.
    failed: Option<String>,
}

/// Starts the first count, so that it is ready before the first view.
pub(crate) fn start(app: &Arc<App>) {
    if let Ok(mut state) = app.tiles.state.lock() {
        count_in_background(app, &mut state);
    }
}

/// The tiles: kept ones at once (a stale one starts a new count), or, before
/// the first count ends, the first count's.
pub(crate) async fn current(app: &Arc<App>) -> Result<Tiles, PageError> {
    loop {
        let counted = app.tiles.counted.notified();
        {
            let mut state = app
                .tiles
                .state
                .lock()
                .map_err(|_| PageError::Database("the tiles' lock is poisoned".into()))?;
            if let Some((at, kept)) = &state.tiles {
                let kept = kept.clone();
                if at.elapsed() >= TTL {
                    count_in_background(app, &mut state);
                }
                return Ok(kept);
            }
            if let Some(message) = state.failed.take() {
                return Err(PageError::Database(message));
            }
            count_in_background(app, &mut state);
        }
        counted.await;
    }
}

fn count_in_background(app: &Arc<App>, state: &mut State) {
    if state.counting {
        return;
    }
    state.counting = true;
    let app = app.clone();
    tokio::spawn(async move {
        let result = tiles(&app.db, &app.schemas).await;
        if let Ok(mut state) = app.tiles.state.lock() {
            state.counting = false;
            match result {
                Ok(t) => {
                    state.tiles = Some((Instant::now(), t));
                    state.failed = None;
                }
                Err(e) => {
                    e.log();
                    state.failed = Some(e.public_detail());
                }
            }
        }
        app.tiles.counted.notify_waiters();
    });
}
