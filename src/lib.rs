//! A drop-in implementation of the Windows **WebSocket Protocol Component API** (`websocket.dll`).
//!
//! The crate builds as `websocket.dll` on Windows and `libwebsocket.so` on Linux and exports the
//! 13 functions of the SDK's `websocket.h` with their exact signatures and calling convention.
//! It performs no I/O: it builds and checks the HTTP upgrade headers, and turns application
//! sends and receives into RFC 6455 frames through a queue of *actions* that the caller fetches
//! with `WebSocketGetAction`, carries out on its own socket, and acknowledges with
//! `WebSocketCompleteAction`.
//!
//! The exports live in [`ffi`]; everything behind them is safe Rust:
//! [`handshake`] (upgrade headers), [`frame`] (frame headers and masking), [`utf8`] (streaming
//! validation), [`session`] (the action state machine), [`config`] (handle properties) and
//! [`deflate`] (the opt-in permessage-deflate negotiation, an extension beyond Windows), on
//! top of [`sys`], the small unsafe foundation (caller memory, SIMD kernels, OS randomness,
//! zlib, the handles' lock).
//!
//! # A full client exchange, through the C ABI
//!
//! ```
//! use std::ptr;
//! use websocket::ffi::*;
//!
//! unsafe {
//!     // Create a client handle with the default properties and produce the request headers.
//!     let mut h: WEB_SOCKET_HANDLE = ptr::null_mut();
//!     assert_eq!(WebSocketCreateClientHandle(ptr::null(), 0, &mut h), 0);
//!     let mut hdrs: *mut WEB_SOCKET_HTTP_HEADER = ptr::null_mut();
//!     let mut n: ULONG = 0;
//!     let hr = WebSocketBeginClientHandshake(
//!         h, ptr::null_mut(), 0, ptr::null_mut(), 0, ptr::null(), 0, &mut hdrs, &mut n);
//!     assert_eq!(hr, 0);
//!
//!     // The application sends those headers in its HTTP request; here a server handle of the
//!     // same library answers them, as a real server would.
//!     let mut s: WEB_SOCKET_HANDLE = ptr::null_mut();
//!     assert_eq!(WebSocketCreateServerHandle(ptr::null(), 0, &mut s), 0);
//!     let mut resp: *mut WEB_SOCKET_HTTP_HEADER = ptr::null_mut();
//!     let mut rn: ULONG = 0;
//!     let hr = WebSocketBeginServerHandshake(
//!         s, ptr::null(), ptr::null_mut(), 0, hdrs, n, &mut resp, &mut rn);
//!     assert_eq!(hr, 0);
//!     let hr = WebSocketEndClientHandshake(
//!         h, resp, rn, ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
//!     assert_eq!(hr, 0);
//!
//!     // Queue a text message and carry out the actions the library asks for.
//!     let mut text = *b"Hello";
//!     let mut buf = WEB_SOCKET_BUFFER {
//!         Data: WEB_SOCKET_BUFFER_DATA { pbBuffer: text.as_mut_ptr(), ulBufferLength: 5 },
//!     };
//!     assert_eq!(WebSocketSend(h, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE as u32, &mut buf,
//!         ptr::null_mut()), 0);
//!     let mut wire = Vec::new();
//!     loop {
//!         let mut bufs = [WEB_SOCKET_BUFFER { Data: WEB_SOCKET_BUFFER_DATA {
//!             pbBuffer: ptr::null_mut(), ulBufferLength: 0 } }; 2];
//!         let mut count: ULONG = 2;
//!         let (mut action, mut ty) = (0, 0);
//!         let (mut app, mut ctx) = (ptr::null_mut(), ptr::null_mut());
//!         let hr = WebSocketGetAction(h, WEB_SOCKET_SEND_ACTION_QUEUE as i32, bufs.as_mut_ptr(),
//!             &mut count, &mut action, &mut ty, &mut app, &mut ctx);
//!         assert_eq!(hr, 0);
//!         if action == WEB_SOCKET_NO_ACTION as i32 { break; }
//!         let mut moved = 0;
//!         if action == WEB_SOCKET_SEND_TO_NETWORK_ACTION as i32 {
//!             for b in &bufs[..count as usize] {   // "write to the socket"
//!                 let d = b.Data;
//!                 wire.extend_from_slice(std::slice::from_raw_parts(d.pbBuffer, d.ulBufferLength as usize));
//!                 moved += d.ulBufferLength;
//!             }
//!         }
//!         WebSocketCompleteAction(h, ctx, moved);
//!     }
//!     // A masked text frame: FIN + opcode 1, MASK + length 5, a 4-byte key, 5 masked bytes.
//!     assert_eq!(&wire[..2], &[0x81, 0x85]);
//!     assert_eq!(wire.len(), 11);
//!
//!     // Close: queue a close frame, then delete the handles.
//!     assert_eq!(WebSocketSend(h, WEB_SOCKET_CLOSE_BUFFER_TYPE as u32, ptr::null_mut(),
//!         ptr::null_mut()), 0);
//!     WebSocketDeleteHandle(h);
//!     WebSocketDeleteHandle(s);
//! }
//! ```
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc, missing_docs)]

pub mod config;
pub mod deflate;
pub mod error;
pub mod ffi;
pub mod frame;
pub mod handshake;
pub mod rng;
pub mod session;
pub mod sys;
pub mod utf8;

pub use error::{Error, Result};
