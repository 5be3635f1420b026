//! The fake's HTTP/1.1 transport: std only, one thread per connection, keep-alive.
//!
//! It replaced `tiny_http` 0.12, whose task pool can leave a new connection queued
//! behind kept-alive ones: when two connections arrive at once and one worker is idle,
//! both are queued for that worker and the second waits until some connection closes.
//! A browser opening six video requests at once hit that (a shot that never loaded).
//! Here every connection gets its own thread at once, so nothing waits on another.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

/// Longest request head (request line and headers) accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Largest request body accepted (uploads are at most 10 MB, in a multipart envelope).
const MAX_BODY: usize = 64 * 1024 * 1024;
/// A kept-alive connection with no new request for this long is closed.
const IDLE: Duration = Duration::from_secs(120);

/// A request method.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Options,
    Other(String),
}

impl Method {
    fn parse(token: &str) -> Method {
        match token {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "OPTIONS" => Method::Options,
            other => Method::Other(other.to_owned()),
        }
    }

    /// The method as it appears on the request line.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Options => "OPTIONS",
            Method::Other(token) => token,
        }
    }
}

/// A request read whole: head and body.
#[derive(Debug)]
pub struct Request {
    pub method: Method,
    /// The request target as sent (path and query).
    pub url: String,
    headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Whether the client asked to close the connection after this exchange.
    fn wants_close(&self, http10: bool) -> bool {
        match self.header("Connection").map(str::to_ascii_lowercase) {
            Some(value) if value.contains("close") => true,
            Some(value) if value.contains("keep-alive") => false,
            _ => http10,
        }
    }
}

/// A header to send.
pub struct Header(String, String);

/// A header named `name` with `value`.
pub fn header(name: &str, value: &str) -> Header {
    Header(name.to_owned(), value.to_owned())
}

enum Body {
    Bytes(Vec<u8>),
    /// Sent as it is read, without a length; the connection closes after it.
    Stream(Box<dyn Read + Send>),
}

/// A response to send.
pub struct Response {
    status: u16,
    headers: Vec<Header>,
    body: Body,
}

impl Response {
    /// A 200 with `data` as its body (its `Content-Length` is added when sent).
    pub fn from_data(data: Vec<u8>) -> Response {
        Response {
            status: 200,
            headers: Vec::new(),
            body: Body::Bytes(data),
        }
    }

    /// A 200 whose body is read from `reader` as it is sent, with no length.
    pub fn streaming(reader: impl Read + Send + 'static) -> Response {
        Response {
            status: 200,
            headers: Vec::new(),
            body: Body::Stream(Box::new(reader)),
        }
    }

    /// The same with another status.
    pub fn with_status_code(mut self, status: u16) -> Response {
        self.status = status;
        self
    }

    /// The same with one more header.
    pub fn with_header(mut self, header: Header) -> Response {
        self.headers.push(header);
        self
    }

    /// The status it will be sent with.
    pub fn status_code(&self) -> u16 {
        self.status
    }

    /// Writes it; `Ok(false)` when the connection cannot be kept after it.
    fn write_to(self, out: &mut impl Write, head_only: bool, close: bool) -> std::io::Result<bool> {
        let keep = !close && matches!(self.body, Body::Bytes(_));
        let mut head = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for Header(name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        // A 204 or 304 has no body and no length (RFC 9110 §8.6).
        let bodiless = matches!(self.status, 204 | 304);
        match &self.body {
            Body::Bytes(bytes) if !bodiless => {
                head.push_str(&format!("Content-Length: {}\r\n", bytes.len()));
            }
            _ => {}
        }
        head.push_str(if keep {
            "Connection: keep-alive\r\n\r\n"
        } else {
            "Connection: close\r\n\r\n"
        });
        out.write_all(head.as_bytes())?;
        if !head_only && !bodiless {
            match self.body {
                Body::Bytes(bytes) => out.write_all(&bytes)?,
                Body::Stream(mut reader) => {
                    let mut chunk = [0u8; 8192];
                    loop {
                        let n = reader.read(&mut chunk)?;
                        if n == 0 {
                            break;
                        }
                        out.write_all(&chunk[..n])?;
                        out.flush()?;
                    }
                }
            }
        }
        out.flush()?;
        Ok(keep)
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Content Too Large",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// Why a request could not be read.
#[derive(Debug)]
enum ReadError {
    /// The connection closed (or idled out) between requests: nothing to answer.
    Closed,
    /// A malformed or oversized request: answer 400 or 413, then close.
    Bad(u16, &'static str),
}

impl From<std::io::Error> for ReadError {
    fn from(_: std::io::Error) -> ReadError {
        ReadError::Closed
    }
}

/// Reads one CRLF- (or LF-) terminated line, without its terminator.
fn read_line(reader: &mut impl BufRead, budget: &mut usize) -> Result<String, ReadError> {
    let mut line = Vec::new();
    let n = reader
        .take(*budget as u64 + 1)
        .read_until(b'\n', &mut line)?;
    if n == 0 {
        return Err(ReadError::Closed);
    }
    if n > *budget {
        return Err(ReadError::Bad(400, "request head too large"));
    }
    *budget -= n;
    if line.last() != Some(&b'\n') {
        return Err(ReadError::Closed);
    }
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    String::from_utf8(line).map_err(|_| ReadError::Bad(400, "request head is not UTF-8"))
}

/// Reads a request (head and body) from `reader`; `interim` receives a
/// `100 Continue` when the client waits for one. Returns it and whether it is HTTP/1.0.
fn read_request(
    reader: &mut impl BufRead,
    interim: &mut impl Write,
) -> Result<(Request, bool), ReadError> {
    let mut budget = MAX_HEAD;
    let mut line = read_line(reader, &mut budget)?;
    while line.is_empty() {
        // Stray CRLFs between requests are allowed (RFC 9112 §2.2).
        line = read_line(reader, &mut budget)?;
    }
    let mut parts = line.split(' ');
    let (Some(method), Some(url), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Bad(400, "malformed request line"));
    };
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return Err(ReadError::Bad(400, "unsupported HTTP version")),
    };
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader, &mut budget)?;
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(ReadError::Bad(400, "malformed header"));
        };
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let mut request = Request {
        method: Method::parse(method),
        url: url.to_owned(),
        headers,
        body: Vec::new(),
    };
    if request
        .header("Expect")
        .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
    {
        interim.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        interim.flush()?;
    }
    let chunked = request
        .header("Transfer-Encoding")
        .is_some_and(|t| t.to_ascii_lowercase().contains("chunked"));
    if chunked {
        request.body = read_chunked(reader)?;
    } else if let Some(length) = request.header("Content-Length") {
        let length: usize = length
            .parse()
            .map_err(|_| ReadError::Bad(400, "malformed Content-Length"))?;
        if length > MAX_BODY {
            return Err(ReadError::Bad(413, "request body too large"));
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        request.body = body;
    }
    Ok((request, http10))
}

/// Reads a chunked body (RFC 9112 §7.1), trailers ignored.
fn read_chunked(reader: &mut impl BufRead) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    loop {
        let mut budget = MAX_HEAD;
        let size_line = read_line(reader, &mut budget)?;
        let size = size_line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| ReadError::Bad(400, "malformed chunk size"))?;
        if size == 0 {
            while !read_line(reader, &mut budget)?.is_empty() {}
            return Ok(body);
        }
        if body.len() + size > MAX_BODY {
            return Err(ReadError::Bad(413, "request body too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        if !read_line(reader, &mut budget)?.is_empty() {
            return Err(ReadError::Bad(400, "malformed chunk"));
        }
    }
}

/// Serves one connection until it closes: each request is answered by `handler`.
fn serve_connection(stream: TcpStream, handler: &(dyn Fn(Request) -> Response + Sync)) {
    let _ = stream.set_read_timeout(Some(IDLE));
    let _ = stream.set_nodelay(true);
    let Ok(mut out) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let (request, http10) = match read_request(&mut reader, &mut out) {
            Ok(read) => read,
            Err(ReadError::Closed) => return,
            Err(ReadError::Bad(status, message)) => {
                let body = format!("{{\"code\":{status},\"message\":\"{message}\"}}");
                let reply = Response::from_data(body.into_bytes())
                    .with_status_code(status)
                    .with_header(header("Content-Type", "application/json"));
                let _ = reply.write_to(&mut out, false, true);
                return;
            }
        };
        let head_only = request.method == Method::Head;
        let close = request.wants_close(http10);
        match handler(request).write_to(&mut out, head_only, close) {
            Ok(true) => {}
            Ok(false) | Err(_) => return,
        }
    }
}

/// Accepts connections on `listener` for ever, one thread each.
pub fn serve(listener: TcpListener, handler: Arc<dyn Fn(Request) -> Response + Send + Sync>) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let handler = Arc::clone(&handler);
        std::thread::spawn(move || serve_connection(stream, handler.as_ref()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(raw: &str) -> Result<(Request, bool), ReadError> {
        read_request(&mut raw.as_bytes(), &mut Vec::new())
    }

    #[test]
    fn a_request_is_read_with_its_headers_and_body() {
        let (request, http10) = read(
            "POST /api/v3/x?y=1 HTTP/1.1\r\nHost: a\r\ncontent-length: 5\r\nAuthorization:  Bearer k \r\n\r\nhelloEXTRA",
        )
        .expect("a request");
        assert_eq!(request.method, Method::Post);
        assert_eq!(request.url, "/api/v3/x?y=1");
        assert_eq!(request.header("authorization"), Some("Bearer k"));
        assert_eq!(request.body, b"hello");
        assert!(!http10);
        assert!(!request.wants_close(http10));
    }

    #[test]
    fn chunked_bodies_and_continue_are_understood() {
        let mut interim = Vec::new();
        let raw = "PUT /u HTTP/1.1\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        let (request, _) =
            read_request(&mut raw.as_bytes(), &mut interim).expect("a chunked request");
        assert_eq!(request.body, b"abcde");
        assert_eq!(interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    }

    #[test]
    fn bad_requests_are_refused_and_a_closed_connection_is_not_an_error() {
        assert!(matches!(read(""), Err(ReadError::Closed)));
        assert!(matches!(
            read("GET / HTTP/1.1\r\nHost"),
            Err(ReadError::Closed)
        ));
        assert!(matches!(read("GET /\r\n\r\n"), Err(ReadError::Bad(400, _))));
        assert!(matches!(
            read("GET / HTTP/2\r\n\r\n"),
            Err(ReadError::Bad(400, _))
        ));
        assert!(matches!(
            read("GET / HTTP/1.1\r\nNoColon\r\n\r\n"),
            Err(ReadError::Bad(400, _))
        ));
        assert!(matches!(
            read("POST / HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n"),
            Err(ReadError::Bad(413, _))
        ));
        let huge = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD));
        assert!(matches!(read(&huge), Err(ReadError::Bad(400, _))));
        let (request, http10) = read("GET / HTTP/1.0\r\n\r\n").expect("HTTP/1.0");
        assert!(request.wants_close(http10));
    }

    #[test]
    fn responses_carry_their_length_or_close_the_connection() {
        let mut out = Vec::new();
        let kept = Response::from_data(b"{}".to_vec())
            .with_status_code(206)
            .with_header(header("A", "b"))
            .write_to(&mut out, false, false)
            .expect("written");
        assert!(kept);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "HTTP/1.1 206 Partial Content\r\nA: b\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n{}"
        );
        let mut out = Vec::new();
        let kept = Response::streaming(&b"abc"[..])
            .write_to(&mut out, false, false)
            .expect("written");
        assert!(!kept);
        assert!(String::from_utf8_lossy(&out).ends_with("Connection: close\r\n\r\nabc"));
        let mut out = Vec::new();
        Response::from_data(Vec::new())
            .with_status_code(204)
            .write_to(&mut out, false, false)
            .expect("written");
        assert_eq!(
            String::from_utf8_lossy(&out),
            "HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n"
        );
    }

    #[test]
    fn two_connections_at_once_are_both_served_while_a_third_idles() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
        let address = listener.local_addr().expect("its address");
        std::thread::spawn(move || {
            serve(
                listener,
                Arc::new(|r: Request| Response::from_data(r.url.into_bytes())),
            )
        });
        // An idle kept-alive connection must not hold up the others.
        let _idle = TcpStream::connect(address).expect("connects");
        let ask = |path: &'static str| {
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(address).expect("connects");
                stream
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .expect("timeout set");
                write!(stream, "GET {path} HTTP/1.1\r\nConnection: close\r\n\r\n").expect("sent");
                let mut reply = String::new();
                stream.read_to_string(&mut reply).expect("a reply");
                reply
            })
        };
        let (a, b) = (ask("/a"), ask("/b"));
        assert!(a.join().expect("a").ends_with("\r\n\r\n/a"));
        assert!(b.join().expect("b").ends_with("\r\n\r\n/b"));
    }
}
