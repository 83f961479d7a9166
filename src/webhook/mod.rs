//! Outbound webhooks on the Standard Webhooks spec: endpoints of a program
//! (`createWebhook` and friends), the URL guard, and the deliverer that
//! sends each endpoint the program's events from the log, signed, in order,
//! with retries, keeping a delivery log.

pub mod deliver;
pub mod graphql;
pub mod guard;
pub mod service;
pub mod usecase;
