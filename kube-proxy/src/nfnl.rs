//! nf_tables over netlink, for partial syncs and the Services' part of full syncs: one batch
//! is one kernel transaction, as with `nft -f`, but without nft's cache load. nft 1.0 lists every chain of the netns before it
//! evaluates an `add rule` or `add element`, and the kernel's chain dump is quadratic, so at
//! 10,000 Services (60,000 chains) `nft` spends ~0.4 s before sending a one-element change.
//!
//! The messages reproduce the attributes nft itself sends (`nft --debug=mnl`), including the
//! userdata nft reads back, so `nft list` prints a netlink-made rule exactly as an nft-made one.

use crate::Error;
use rustix::net::{netlink, AddressFamily, RecvFlags, SendFlags, SocketType};
use std::net::Ipv4Addr;

const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
const NFNL_MSG_BATCH_END: u16 = 0x11;
const NFPROTO_IPV4: u8 = 2;
const NLMSG_ERROR: u16 = 2;
const NLA_F_NESTED: u16 = 0x8000;

const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_APPEND: u16 = 0x800;

// enum nf_tables_msg_types
const NEWCHAIN: u8 = 3;
const DELCHAIN: u8 = 5;
const NEWRULE: u8 = 6;
const DELRULE: u8 = 8;
const NEWSET: u8 = 9;
const DELSET: u8 = 11;
const NEWSETELEM: u8 = 12;
const DELSETELEM: u8 = 14;

/// The table every message addresses.
const TABLE: &str = "kube-proxy";

/// Verdict codes (`enum nft_verdicts`, `NF_DROP`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Drop,
    Jump,
    Goto,
}

impl Code {
    fn value(self) -> i32 {
        match self {
            Code::Drop => 0,
            Code::Jump => -3,
            Code::Goto => -4,
        }
    }
}

/// Payload bases.
pub const NETWORK: u32 = 1;
pub const TRANSPORT: u32 = 2;
/// Meta keys.
pub const META_IIFNAME: u32 = 6;
pub const META_L4PROTO: u32 = 16;

/// One batch under construction.
pub struct Batch {
    buf: Vec<u8>,
    seq: u32,
    /// What each message did, by sequence number, for error messages.
    what: Vec<String>,
    next_set_id: u32,
}

impl Default for Batch {
    fn default() -> Self {
        Self::new()
    }
}

fn put_u16(buf: &mut Vec<u8>, v: u16) {
    buf.extend_from_slice(&v.to_ne_bytes());
}

fn pad(buf: &mut Vec<u8>) {
    while !buf.len().is_multiple_of(4) {
        buf.push(0);
    }
}

impl Batch {
    pub fn new() -> Batch {
        let mut b = Batch { buf: Vec::with_capacity(4096), seq: 0, what: Vec::new(), next_set_id: 1 };
        let at = b.header(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, 0, NFNL_SUBSYS_NFTABLES, "begin");
        b.end(at);
        b
    }

    /// Messages besides the batch's begin and end.
    pub fn len(&self) -> usize {
        self.what.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The encoded size so far.
    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    fn header(&mut self, ty: u16, flags: u16, family: u8, res_id: u16, what: &str) -> usize {
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        put_u16(&mut self.buf, ty);
        put_u16(&mut self.buf, flags);
        self.buf.extend_from_slice(&self.seq.to_ne_bytes());
        self.buf.extend_from_slice(&0u32.to_ne_bytes());
        self.buf.extend_from_slice(&[family, 0]);
        self.buf.extend_from_slice(&res_id.to_be_bytes());
        self.seq += 1;
        self.what.push(what.to_string());
        at
    }

    fn msg(&mut self, ty: u8, flags: u16, what: String) -> usize {
        let ty = (NFNL_SUBSYS_NFTABLES << 8) | ty as u16;
        self.header(ty, NLM_F_REQUEST | flags, NFPROTO_IPV4, 0, &what)
    }

    fn end(&mut self, at: usize) {
        let len = (self.buf.len() - at) as u32;
        self.buf[at..at + 4].copy_from_slice(&len.to_ne_bytes());
    }

    fn attr(&mut self, ty: u16, data: &[u8]) {
        put_u16(&mut self.buf, (4 + data.len()) as u16);
        put_u16(&mut self.buf, ty);
        self.buf.extend_from_slice(data);
        pad(&mut self.buf);
    }

    fn str(&mut self, ty: u16, s: &str) {
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s.as_bytes());
        v.push(0);
        self.attr(ty, &v);
    }

    fn u32(&mut self, ty: u16, v: u32) {
        self.attr(ty, &v.to_be_bytes());
    }

    fn nest(&mut self, ty: u16) -> usize {
        let at = self.buf.len();
        put_u16(&mut self.buf, 0);
        put_u16(&mut self.buf, ty | NLA_F_NESTED);
        at
    }

    fn close(&mut self, at: usize) {
        let len = (self.buf.len() - at) as u16;
        self.buf[at..at + 2].copy_from_slice(&len.to_ne_bytes());
    }

    /// `NFTA_DATA_VALUE` inside a nest of type `ty`.
    fn data_value(&mut self, ty: u16, v: &[u8]) {
        let n = self.nest(ty);
        self.attr(1, v);
        self.close(n);
    }

    /// `NFTA_DATA_VERDICT` inside a nest of type `ty`.
    fn data_verdict(&mut self, ty: u16, code: Code, chain: Option<&str>) {
        let n = self.nest(ty);
        let v = self.nest(2);
        self.attr(1, &code.value().to_be_bytes());
        if let Some(c) = chain {
            self.str(2, c);
        }
        self.close(v);
        self.close(n);
    }

    /// Userdata of one TLV (type 0: a rule's or an element's comment), NUL-terminated.
    fn comment(&mut self, ty: u16, text: &str) {
        let mut v = vec![0u8, (text.len() + 1) as u8];
        v.extend_from_slice(text.as_bytes());
        v.push(0);
        self.attr(ty, &v);
    }

    /// `add chain ip kube-proxy <name>`.
    pub fn add_chain(&mut self, name: &str) {
        let m = self.msg(NEWCHAIN, NLM_F_CREATE, format!("add chain {name}"));
        self.str(1, TABLE);
        self.str(3, name);
        self.end(m);
    }

    /// `flush chain`: a rule deletion naming only the chain.
    pub fn flush_chain(&mut self, name: &str) {
        let m = self.msg(DELRULE, 0, format!("flush chain {name}"));
        self.str(1, TABLE);
        self.str(2, name);
        self.end(m);
    }

    pub fn delete_chain(&mut self, name: &str) {
        let m = self.msg(DELCHAIN, 0, format!("delete chain {name}"));
        self.str(1, TABLE);
        self.str(3, name);
        self.end(m);
    }

    /// `add set … { type ipv4_addr ; flags dynamic,timeout ; timeout <secs>s ; }` (affinity).
    pub fn add_timeout_set(&mut self, name: &str, secs: u32) {
        let id = self.set_id();
        let m = self.msg(NEWSET, NLM_F_CREATE, format!("add set {name}"));
        self.str(1, TABLE);
        self.str(2, name);
        self.u32(3, 0x10 | 0x20); // NFT_SET_TIMEOUT | NFT_SET_EVAL
        self.u32(4, 7); // ipv4_addr
        self.u32(5, 4);
        self.u32(10, id);
        self.attr(11, &(u64::from(secs) * 1000).to_be_bytes());
        // Key byte order: big endian.
        self.attr(13, &[0, 4, 2, 0, 0, 0]);
        self.end(m);
    }

    pub fn delete_set(&mut self, name: &str) {
        let m = self.msg(DELSET, 0, format!("delete set {name}"));
        self.str(1, TABLE);
        self.str(2, name);
        self.end(m);
    }

    fn set_id(&mut self) -> u32 {
        self.next_set_id += 1;
        self.next_set_id
    }

    /// `flush set` / `flush map`: an element deletion naming no element.
    pub fn flush_set(&mut self, name: &str) {
        let m = self.msg(DELSETELEM, 0, format!("flush set {name}"));
        self.str(1, TABLE);
        self.str(2, name);
        self.end(m);
    }

    /// Adds (or deletes) elements of a named set or map, in messages of at most 200 elements
    /// (an attribute's length is 16 bits).
    pub fn elements(&mut self, set: &str, add: bool, elems: &[Element<'_>]) {
        for chunk in elems.chunks(200) {
            self.element_msg(set, add, chunk);
        }
    }

    fn element_msg(&mut self, set: &str, add: bool, elems: &[Element<'_>]) {
        let (ty, flags, verb) = if add { (NEWSETELEM, NLM_F_CREATE, "add") } else { (DELSETELEM, 0, "delete") };
        let m = self.msg(ty, flags, format!("{verb} element {set}"));
        self.str(1, TABLE);
        self.str(2, set);
        let list = self.nest(3);
        for e in elems {
            let n = self.nest(1);
            self.data_value(1, &e.key);
            if add {
                if let Some((code, chain)) = e.verdict {
                    self.data_verdict(2, code, chain);
                }
                if let Some(c) = e.comment {
                    self.comment(6, c);
                }
            }
            self.close(n);
        }
        self.close(list);
        self.end(m);
    }

    /// Starts `add rule ip kube-proxy <chain> …`; expressions follow, then [`Rule::finish`].
    pub fn rule<'b>(&'b mut self, chain: &str) -> Rule<'b> {
        // An anonymous map of the rule must precede the rule itself: the rule is built into a
        // buffer of its own and appended at `finish`.
        Rule { batch: self, chain: chain.to_string(), exprs: Vec::new() }
    }

    /// Ends the batch: the bytes to send.
    pub fn finish(mut self) -> (Vec<u8>, Vec<String>) {
        let at = self.header(NFNL_MSG_BATCH_END, NLM_F_REQUEST, 0, NFNL_SUBSYS_NFTABLES, "end");
        self.end(at);
        (self.buf, self.what)
    }
}

/// A name for an anonymous set, unique in the table. nft sends `__map%d` and lets the
/// kernel pick the number, but the kernel then parses the name of every set of the table
/// with `sscanf`, per new set: at 10,000 Services that was most of a full sync. Names are
/// 15 characters (anonymous ones must stay under 16), from a per-process random start, so a
/// restarted kube-proxy does not reuse the ones its predecessor left bound to rules.
fn anonymous_name() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static NEXT: OnceLock<AtomicU64> = OnceLock::new();
    let next = NEXT.get_or_init(|| {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        AtomicU64::new((t.as_nanos() as u64) ^ (u64::from(std::process::id()) << 32))
    });
    format!("__m{:012x}", next.fetch_add(1, Ordering::Relaxed) & 0xffff_ffff_ffff)
}

/// One set element: key bytes (concatenations padded per field to 4 bytes), a verdict for
/// maps, a comment.
pub struct Element<'a> {
    pub key: Vec<u8>,
    pub verdict: Option<(Code, Option<&'a str>)>,
    pub comment: Option<&'a str>,
}

/// One expression: name and its attributes, already encoded.
struct Expr {
    name: &'static str,
    data: Vec<u8>,
}

/// A rule under construction.
pub struct Rule<'b> {
    batch: &'b mut Batch,
    chain: String,
    exprs: Vec<Expr>,
}

/// Encodes an expression's attributes with a scratch batch's attribute writers.
fn expr(name: &'static str, f: impl FnOnce(&mut Batch)) -> Expr {
    let mut b = Batch { buf: Vec::new(), seq: 0, what: Vec::new(), next_set_id: 0 };
    f(&mut b);
    Expr { name, data: b.buf }
}

impl Rule<'_> {
    /// `payload load <len>b @ <base> + <offset> => reg 1`.
    pub fn payload(&mut self, base: u32, offset: u32, len: u32) -> &mut Self {
        self.exprs.push(expr("payload", |b| {
            b.u32(1, 1);
            b.u32(2, base);
            b.u32(3, offset);
            b.u32(4, len);
        }));
        self
    }

    /// `cmp eq|neq reg 1 <data>`.
    pub fn cmp(&mut self, neq: bool, data: &[u8]) -> &mut Self {
        self.exprs.push(expr("cmp", |b| {
            b.u32(1, 1);
            b.u32(2, u32::from(neq));
            b.data_value(3, data);
        }));
        self
    }

    /// `bitwise reg 1 = (reg 1 & mask) ^ 0`.
    pub fn mask(&mut self, mask: &[u8]) -> &mut Self {
        self.exprs.push(expr("bitwise", |b| {
            b.u32(1, 1);
            b.u32(2, 1);
            b.u32(3, mask.len() as u32);
            b.data_value(4, mask);
            b.data_value(5, &vec![0; mask.len()]);
        }));
        self
    }

    /// `meta load <key> => reg 1`.
    pub fn meta(&mut self, key: u32) -> &mut Self {
        self.exprs.push(expr("meta", |b| {
            b.u32(2, key);
            b.u32(1, 1);
        }));
        self
    }

    /// `fib saddr type => reg 1`.
    pub fn fib_saddr_type(&mut self) -> &mut Self {
        self.exprs.push(expr("fib", |b| {
            b.u32(3, 1); // NFTA_FIB_F_SADDR
            b.u32(2, 3); // NFT_FIB_RESULT_ADDRTYPE
            b.u32(1, 1);
        }));
        self
    }

    /// `lookup reg 1 set <name>`.
    pub fn lookup(&mut self, set: &str) -> &mut Self {
        let set = set.to_string();
        self.exprs.push(expr("lookup", |b| {
            b.u32(2, 1);
            b.str(1, &set);
        }));
        self
    }

    /// `dynset update reg_key 1 set <name>`.
    pub fn update_set(&mut self, set: &str) -> &mut Self {
        let set = set.to_string();
        self.exprs.push(expr("dynset", |b| {
            b.u32(4, 1);
            b.u32(3, 1); // NFT_DYNSET_OP_UPDATE
            b.str(1, &set);
        }));
        self
    }

    /// `immediate reg 0 <verdict>`.
    pub fn verdict(&mut self, code: Code, chain: Option<&str>) -> &mut Self {
        let chain = chain.map(str::to_string);
        self.exprs.push(expr("immediate", |b| {
            b.u32(1, 0);
            b.data_verdict(2, code, chain.as_deref());
        }));
        self
    }

    /// `dnat to <ip>:<port>`: the address and port in registers 1 and 2, then `nat`.
    pub fn dnat(&mut self, ip: Ipv4Addr, port: u16) -> &mut Self {
        self.exprs.push(expr("immediate", |b| {
            b.u32(1, 1);
            b.data_value(2, &ip.octets());
        }));
        self.exprs.push(expr("immediate", |b| {
            b.u32(1, 2);
            b.data_value(2, &port.to_be_bytes());
        }));
        self.exprs.push(expr("nat", |b| {
            b.u32(1, 1); // NFT_NAT_DNAT
            b.u32(2, u32::from(NFPROTO_IPV4));
            b.u32(3, 1);
            b.u32(5, 2);
            b.u32(7, 2); // NF_NAT_RANGE_PROTO_SPECIFIED
        }));
        self
    }

    /// `numgen random mod <n> vmap { 0 : goto <c0> , … }`: an anonymous constant map created
    /// in the same batch, before the rule, and found by its batch-local id.
    pub fn numgen_vmap(&mut self, gotos: &[&str]) -> &mut Self {
        let b = &mut *self.batch;
        let id = b.set_id();
        let name = anonymous_name();
        let m = b.msg(NEWSET, NLM_F_CREATE, format!("add anonymous map for {}", self.chain));
        b.str(1, TABLE);
        b.str(2, &name);
        b.u32(3, 0x1 | 0x2 | 0x8); // ANONYMOUS | CONSTANT | MAP
        b.u32(4, 4); // integer
        b.u32(5, 4);
        b.u32(6, 0xffff_ff00); // NFT_DATA_VERDICT
        b.u32(7, 0);
        b.u32(10, id);
        let d = b.nest(9);
        b.u32(1, gotos.len() as u32);
        b.close(d);
        // nft's userdata for a `numgen` key: host byte order, and the key's typeof.
        b.attr(13, &[0, 4, 1, 0, 0, 0, 1, 4, 0, 0, 0, 0, 4, 8, 0, 4, 1, 0, 0, 0, 1, 0, 6, 4, 0, 0, 0, 0]);
        b.end(m);
        for (at, chunk) in gotos.chunks(200).enumerate() {
            let m = b.msg(NEWSETELEM, NLM_F_CREATE, format!("add anonymous map elements for {}", self.chain));
            b.str(1, TABLE);
            b.str(2, &name);
            b.u32(4, id);
            let list = b.nest(3);
            for (i, c) in chunk.iter().enumerate() {
                let n = b.nest(1);
                b.data_value(1, &((at * 200 + i) as u32).to_ne_bytes());
                b.data_verdict(2, Code::Goto, Some(c));
                b.close(n);
            }
            b.close(list);
            b.end(m);
        }
        let n = gotos.len() as u32;
        self.exprs.push(expr("numgen", |b| {
            b.u32(1, 1);
            b.u32(2, n);
            b.u32(3, 1); // NFT_NG_RANDOM
            b.u32(4, 0);
        }));
        self.exprs.push(expr("lookup", |b| {
            b.u32(2, 1);
            b.u32(3, 0);
            b.str(1, &name);
            b.u32(4, id);
        }));
        self
    }

    /// Appends the rule (with its comment) to the batch.
    pub fn finish(&mut self, comment: Option<&str>) {
        let exprs = std::mem::take(&mut self.exprs);
        let chain = std::mem::take(&mut self.chain);
        let b = &mut *self.batch;
        let m = b.msg(NEWRULE, NLM_F_CREATE | NLM_F_APPEND, format!("add rule {chain}"));
        b.str(1, TABLE);
        b.str(2, &chain);
        let list = b.nest(4);
        for e in exprs {
            let n = b.nest(1);
            b.str(1, e.name);
            let d = b.nest(2);
            b.buf.extend_from_slice(&e.data);
            b.close(d);
            b.close(n);
        }
        b.close(list);
        if let Some(c) = comment {
            b.comment(7, c);
        }
        b.end(m);
    }
}

/// Sends a finished batch and reports the first message the kernel refused. The kernel runs
/// the whole batch inside `send`, so its answers are queued when `send` returns.
pub fn send(buf: &[u8], what: &[String]) -> Result<(), Error> {
    let io = |op: &str, e: rustix::io::Errno| Error::Restore(format!("nftables netlink {op}: {e}"));
    let fd = rustix::net::socket(AddressFamily::NETLINK, SocketType::RAW, Some(netlink::NETFILTER))
        .map_err(|e| io("socket", e))?;
    if buf.len() + 64 > rustix::net::sockopt::socket_send_buffer_size(&fd).unwrap_or(0) {
        rustix::net::sockopt::set_socket_send_buffer_size_force(&fd, buf.len() + 64)
            .or_else(|_| rustix::net::sockopt::set_socket_send_buffer_size(&fd, buf.len() + 64))
            .map_err(|e| io("SO_SNDBUF", e))?;
    }
    rustix::net::bind(&fd, &netlink::SocketAddrNetlink::new(0, 0)).map_err(|e| io("bind", e))?;
    let sent = rustix::net::send(&fd, buf, SendFlags::empty()).map_err(|e| io("send", e))?;
    if sent != buf.len() {
        return Err(Error::Restore(format!("nftables netlink: sent {sent} of {} bytes", buf.len())));
    }
    let mut answer = vec![0u8; 64 * 1024];
    loop {
        let n = match rustix::net::recv(&fd, &mut answer[..], RecvFlags::DONTWAIT) {
            Ok((n, _)) => n,
            Err(rustix::io::Errno::AGAIN) => return Ok(()),
            Err(e) => return Err(io("recv", e)),
        };
        let mut at = 0;
        while at + 16 <= n {
            let len = u32::from_ne_bytes(answer[at..at + 4].try_into().unwrap_or_default()) as usize;
            let ty = u16::from_ne_bytes([answer[at + 4], answer[at + 5]]);
            if ty == NLMSG_ERROR && at + 20 <= n {
                let errno = i32::from_ne_bytes(answer[at + 16..at + 20].try_into().unwrap_or_default());
                if errno != 0 {
                    // The refused message's header follows: its sequence number names it.
                    let seq = answer
                        .get(at + 28..at + 32)
                        .and_then(|s| s.try_into().ok())
                        .map(u32::from_ne_bytes)
                        .unwrap_or(u32::MAX);
                    let which = what.get(seq as usize).map_or("?", String::as_str);
                    return Err(Error::Restore(format!(
                        "nftables netlink: {which}: {}",
                        rustix::io::Errno::from_raw_os_error(-errno)
                    )));
                }
            }
            if len < 16 {
                break;
            }
            at += len.next_multiple_of(4);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_padded_and_nests_sized() {
        let mut b = Batch::new();
        b.add_chain("svc-a");
        let (buf, what) = b.finish();
        // begin (20) + chain message (16 + 4 + 15→16 + 4 + 6→8 = 48) + end (20).
        assert_eq!(buf.len(), 20 + 48 + 20);
        assert_eq!(u32::from_ne_bytes(buf[20..24].try_into().unwrap()), 48);
        assert_eq!(u16::from_ne_bytes([buf[24], buf[25]]), (10 << 8) | 3);
        assert_eq!(what, ["begin", "add chain svc-a", "end"]);
        // The begin message addresses the nf_tables subsystem, big endian.
        assert_eq!(&buf[16..20], &[0, 0, 0, 10]);
    }
}
