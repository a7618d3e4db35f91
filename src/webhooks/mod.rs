//! Webhooks, the parts that know HTTP and the Standard Webhooks specification: the event types
//! ([`events`]), signing ([`signing`]), which targets may be called ([`target`]) and the one
//! guarded POST of a delivery ([`sender`]). Endpoints, events and deliveries are rows
//! (`db::webhooks`); the `DeliverWebhook` job (`workers::deliver_webhook`) joins the two.

pub mod events;
pub mod sender;
pub mod signing;
pub mod target;
