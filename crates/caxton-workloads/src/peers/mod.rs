//! The fan-out and ping-pong workloads on other Rust actor frameworks, so a
//! bench can put Caxton, raw tokio (the floor) and its peers side by side.
//!
//! Each peer does exactly what [`crate::fanout`] and [`crate::pingpong`] do:
//! the same [`Message`](caxton_runtime::Message) envelopes with the same
//! static payloads, receivers that count with the same
//! [`Completion`](crate::agents::Completion) (one atomic per receiver per
//! run), and an echo that answers each request with a reply envelope. Only
//! the framework in between changes.
//!
//! Framework differences worth knowing when reading the numbers:
//!
//! * **ractor** mailboxes are unbounded: a send never waits, so a fast
//!   producer queues ahead instead of feeling backpressure. Request/reply
//!   uses `ActorRef::call` with an `RpcReplyPort`.
//! * **kameo** is used with bounded mailboxes of the same capacity as
//!   Caxton's (`tell(..).await` waits for room), and request/reply uses
//!   `ask`. Kameo boxes each message on send.
//!
//! Enabled by the crate feature `peers`.

pub mod kameo;
pub mod ractor;
