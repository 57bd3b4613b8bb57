//! Prometheus metrics (`/metrics`): requests by route and status, events accepted and refused,
//! publishes and witness failures, the latest epoch and the queue.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    pub status: u16,
}

#[derive(Default)]
pub struct Metrics {
    pub requests: Family<RequestLabels, Counter>,
    pub events_accepted: Counter,
    pub events_refused: Counter,
    pub publishes: Counter,
    pub witness_failures: Counter,
    pub head_epoch: Gauge,
    pub queue: Gauge,
}

impl Metrics {
    pub fn encode(&self) -> String {
        let mut reg = Registry::with_prefix("healthcode");
        reg.register("http_requests", "HTTP requests by route and status", self.requests.clone());
        reg.register("events_accepted", "Events and retractions accepted", self.events_accepted.clone());
        reg.register("events_refused", "Events and retractions refused", self.events_refused.clone());
        reg.register("publishes", "Epochs published", self.publishes.clone());
        reg.register(
            "witness_failures",
            "Witnesses that did not cosign a checkpoint",
            self.witness_failures.clone(),
        );
        reg.register("head_epoch", "Epoch of the latest signed head", self.head_epoch.clone());
        reg.register("queue", "Entries accepted and not yet published", self.queue.clone());
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &reg).expect("writing to a String");
        out
    }
}
