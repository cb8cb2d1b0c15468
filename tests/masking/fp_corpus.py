"""Ordinary audit-event fields with no secrets and no personal data, for the false-positive test.

What an AI-agent workload really writes: prompts to an assistant, model answers, code in Python,
JavaScript, Go and C++, SQL, JSON tool arguments and log lines, with the hard cases an audit system
meets: UUIDs, SHA-256 and git hashes, ISO timestamps and times like 12:30:45, version strings such as
1.2.3 and 10.0.19041.1, prices, order numbers, big integers, epoch timestamps, `std::vector` and `a::b`,
base64 data that is not a token, the word "password" in prose, URLs without passwords, "bearer" in
prose. Written for this test, not tuned to the detectors: a field that trips one is a detector bug.

`CORPUS` is a list of (category, text). Part of it is built from templates filled with
deterministic pseudo-random identifiers (UUIDs, hashes, timestamps), so it is the same on every run.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import uuid
from datetime import UTC, datetime, timedelta

PROMPTS = [
    "Summarise the attached quarterly report in five bullet points for the leadership team.",
    "Can you rewrite this paragraph so it sounds less formal? Keep it under 100 words.",
    "What is the difference between a process and a thread in Linux?",
    "Translate 'the meeting is moved to Thursday at 3pm' into German and French.",
    "Write a haiku about autumn leaves falling on a quiet river.",
    "Explain how TLS 1.3 reduces the handshake to one round trip.",
    "I forgot my password for the staging dashboard. What is the usual reset procedure?",
    "Give me three name ideas for a coffee shop near the university campus.",
    "Why does my Python script print 0.30000000000000004 when I add 0.1 and 0.2?",
    "List the planets of the solar system in order of distance from the sun.",
    "Draft a polite email declining the vendor's offer but leaving the door open for next year.",
    "How many grams of flour are in 2.5 cups?",
    "Compare PostgreSQL 15 and MySQL 8.0 for a read-heavy workload with 200 GB of data.",
    "What happened at the Congress of Vienna in 1815?",
    "Write unit tests for the function below. Use pytest and cover the edge cases.",
    "Plan a 3-day itinerary for Lisbon on a budget of 400 euros.",
    "My build fails with 'error: linker command failed with exit code 1'. Where should I start?",
    "Explain the bearer of bad news idiom and give an example sentence.",
    "Is 7919 a prime number? Show your reasoning.",
    "Convert 72 degrees Fahrenheit to Celsius.",
    "Refactor this class to use dependency injection instead of global singletons.",
    "What are the main causes of inflation according to Keynesian economics?",
    "Create a weekly workout plan for a beginner with 30 minutes a day.",
    "Find the bug: the loop runs one time too many when the list is empty.",
    "Describe the water cycle for a 10-year-old.",
    "Generate a SQL query that returns the top 10 customers by revenue in 2023.",
    "Why is the sky blue? Keep the answer short.",
    "Suggest a strong password policy for our internal wiki (length, rotation, MFA).",
    "What does HTTP status 429 mean and how should a client back off?",
    "Summarise ticket INC-20931: users in the EU region see slow page loads after 18:00 UTC.",
    "Rank these features by effort: dark mode, CSV export, SSO, audit log search.",
    "Write a limerick about a cat who learned to code in Rust.",
    "How do I undo the last git commit but keep my changes?",
    "Explain the CAP theorem with a concrete example.",
    "What is the time complexity of heapq.heappush?",
    "Check this regex for emails and tell me what it misses.",
    "Describe how Kafka consumer groups rebalance when a member leaves.",
    "Give me a recipe for vegetable curry that serves four.",
    "Is it safe to store session tokens in localStorage? What are the alternatives?",
    "Help me name the variables in this function more clearly.",
    "What does the error 'ModuleNotFoundError: No module named yaml' mean?",
    "Estimate how long it takes to read 300 pages at 40 pages per hour.",
    "Outline a talk on observability for a 20-minute slot.",
    "Please proofread: 'Their going to announce the results tommorow morning.'",
    "What is the capital of Australia, and why isn't it Sydney?",
    "Explain what a UUID v4 is and how likely a collision is.",
    "Draft release notes for version 2.14.0: faster sync, fixed crash on startup, new export button.",
    "Which is bigger, 2^64 or 10^19?",
    "Explain the difference between authentication and authorization in two sentences.",
    "Why would a Docker container exit with code 137?",
    "How can I speed up a pandas groupby on 50 million rows?",
    "Summarise chapter 3 of the onboarding guide, the part about code review.",
    "What are good questions to ask at the end of a job interview?",
    "Write a bash one-liner that counts lines in all .py files under src/.",
    "Explain eventual consistency using a shopping cart example.",
    "My order arrived damaged. How should I phrase a complaint to the shop?",
    "What is the boiling point of water at 2,000 metres altitude?",
    "Explain what a JSON Web Token contains without showing a real one.",
    "Turn these meeting notes into action items with owners and due dates.",
    "Make this SQL faster: it does a full table scan on orders every time.",
    "Give me a short motivational quote for a Monday stand-up.",
    "What changed between Python 3.11 and 3.12 for f-strings?",
    "How does the OAuth 2.0 authorization code flow work, step by step?",
    "Suggest five blog post titles about remote work productivity.",
    "What should be in a README for an open-source CLI tool?",
    "Explain how a B-tree index speeds up range queries.",
    "What is the median of 3, 9, 4, 12 and 7?",
    "Describe the rules of chess castling.",
    "Why does my React component render twice in development mode?",
    "Compose a thank-you note to the team for shipping the 3.0 release on time.",
    "Calculate the compound interest on 10,000 at 4.5% for 7 years.",
    "What are the trade-offs of microservices versus a modular monolith?",
    "Explain why floating point numbers cannot represent 0.1 exactly.",
    "Write a cover letter opening line for a data engineering role.",
    "Give an overview of the French Revolution in 150 words.",
    "What is a race condition? Give an example in Go.",
    "Recommend three books about distributed systems.",
    "Help me plan the agenda for a two-hour architecture review.",
    "What does 'idempotent' mean for an HTTP PUT request?",
    "Why does Excel show ##### in a cell?",
]

RESPONSES = [
    "Sure! Here are five bullet points summarising the report:\n- Revenue grew 12% quarter over quarter.\n"
    "- Churn fell to 3.1%.\n- Two new regions launched.\n- Hiring slowed in Q3.\n- Cash runway is 26 months.",
    "A process has its own address space; threads share the address space of their process.",
    "German: 'Das Treffen wird auf Donnerstag um 15 Uhr verschoben.' French: 'La réunion est déplacée à jeudi à 15h.'",
    "Leaves drift and settle / the river carries red gold / silence follows them",
    "Floating point numbers are stored in binary, so 0.1 and 0.2 have no exact representation; "
    "their sum rounds to 0.30000000000000004.",
    "To reset a forgotten password, use the 'Forgot password?' link on the sign-in page; "
    "an administrator can also trigger a reset from the user management screen.",
    "Mercury, Venus, Earth, Mars, Jupiter, Saturn, Uranus, Neptune.",
    "2.5 cups of all-purpose flour is about 312 grams.",
    "For a read-heavy workload of 200 GB both work well; PostgreSQL 15 has better parallel query support, "
    "while MySQL 8.0 is simpler to replicate.",
    "Yes, 7919 is prime: it is the 1000th prime number.",
    "72 °F is about 22.2 °C.",
    "The sky looks blue because air molecules scatter short (blue) wavelengths more than long ones.",
    "HTTP 429 Too Many Requests means you are being rate limited. Respect the Retry-After header and back off "
    "exponentially, for example 1 s, 2 s, 4 s, up to 60 s.",
    "Use `git reset --soft HEAD~1`: the commit is undone and your changes stay staged.",
    "heapq.heappush runs in O(log n) time.",
    "The regex misses addresses with a plus sign in the local part and new top-level domains longer than 4 letters.",
    "When a member leaves, the group coordinator triggers a rebalance and partitions are reassigned "
    "to the remaining consumers; with cooperative rebalancing only the moved partitions pause.",
    "Storing session tokens in localStorage exposes them to XSS. Prefer HttpOnly, Secure, SameSite cookies.",
    "The error means PyYAML is not installed in the active environment. Run `pip install pyyaml`.",
    "At 40 pages per hour, 300 pages take 7.5 hours.",
    "They're going to announce the results tomorrow morning.",
    "Canberra is the capital; it was chosen in 1908 as a compromise between Sydney and Melbourne.",
    "A version 4 UUID has 122 random bits; you would need about 2.7 quintillion of them for a 50% chance "
    "of one collision.",
    "Release notes for 2.14.0:\n* Sync is up to 3x faster.\n* Fixed a crash on startup on macOS 14.\n* "
    "New Export button.",
    "2^64 = 18,446,744,073,709,551,616, which is bigger than 10^19 = 10,000,000,000,000,000,000.",
    "Authentication checks who you are; authorization checks what you are allowed to do.",
    "Exit code 137 means the container received SIGKILL, usually from the out-of-memory killer.",
    "Use categorical dtypes for the group keys and call groupby with sort=False; it should cut the time "
    "roughly in half.",
    "`find src -name '*.py' | xargs wc -l | tail -1`",
    "The boiling point of water at 2,000 m is about 93.4 °C.",
    "A JWT has three base64url parts separated by dots: a header, a set of claims and a signature.",
    "Action items:\n1. Ana: draft the migration plan by Friday.\n2. Ravi: benchmark the new index.\n3. "
    "Team: review on the 14th.",
    "Add an index on orders(customer_id, created_at) and the planner will switch to an index scan.",
    "Python 3.12 allows quotes of the same kind and backslashes inside f-string expressions (PEP 701).",
    "1. The client redirects the user to the authorization server.\n2. The user signs in and consents.\n"
    "3. The server redirects back with a code.\n4. The client exchanges the code for tokens at the token endpoint.",
    "A B-tree keeps keys sorted in pages, so a range query seeks to the first key and reads leaf pages in order.",
    "The median of 3, 9, 4, 12 and 7 is 7.",
    "React 18 StrictMode mounts components twice in development to surface side effects; production renders once.",
    "After 7 years at 4.5% compounded yearly, 10,000 grows to about 13,608.62.",
    "0.1 in binary is a repeating fraction (0.0001100110011...), so it is rounded to the nearest double.",
    "A race condition: two goroutines increment a shared counter without a mutex and some increments are lost.",
    "Designing Data-Intensive Applications; Database Internals; Understanding Distributed Systems.",
    "PUT is idempotent: sending the same request twice leaves the resource in the same state as sending it once.",
    "Excel shows ##### when the column is too narrow for the number or date in the cell.",
    "I could not find a ticket with that number. Could you double-check it? It should look like INC-12345.",
    "Your order #558812 was shipped on 3 May and should arrive within 2-4 business days.",
    "The total comes to $1,249.97 including 8.25% sales tax.",
    "I don't have access to your account details, but support can help you reset your password.",
    "The build succeeded in 4m 12s; 1,284 tests passed, 3 were skipped.",
    "Here is the corrected function:\n\ndef mean(xs):\n    return sum(xs) / len(xs) if xs else 0.0",
    "The bearer of this letter is authorised to collect the documents on my behalf.",
    "Bearer authentication sends a token in the Authorization header; never log that header.",
    "Sorry, I can't help with bypassing the license check.",
    "The deployment to production finished at 14:32:07 UTC; all 12 pods are healthy.",
    "Your meeting with the design team is at 10:30 on Tuesday in room 4.12.",
    "Average latency dropped from 182 ms to 97 ms after enabling HTTP/2.",
    "Kubernetes 1.29 deprecates the flowcontrol.apiserver.k8s.io/v1beta2 API.",
    "The CSV has 48,213 rows and 17 columns; 312 rows have an empty 'region' value.",
    "The matrix [[1, 2], [3, 4]] has determinant -2.",
    "In 2023 the company shipped 1.2 million units, up from 950,000 in 2022.",
    "Here are three title ideas: 'Deep Work at Home', 'The Async Office', 'Meetings Are Optional'.",
    "To castle, the king moves two squares toward a rook and the rook jumps over it; neither may have moved before.",
    "Python 3.11.7 is installed; the project requires >= 3.11, so you are fine.",
    "The forecast for tomorrow: 18-23 °C, light rain after 16:00, wind 12 km/h.",
    "I've drafted the agenda: 10:00 context, 10:20 proposals, 11:00 break, 11:10 decision, 11:50 next steps.",
    "The checksum matches, so the download is intact.",
    "Step 1 of 3 completed. Waiting for the approval step before continuing.",
]

PYTHON = [
    "def add(a: int, b: int) -> int:\n    return a + b",
    "import os\nDB_PASSWORD = os.environ['DB_PASSWORD']\nconn = connect(host=DB_HOST, password=DB_PASSWORD)",
    "for i, row in enumerate(rows):\n    if row['status'] == 'failed':\n        retry(row['id'], attempt=i + 1)",
    "class Cache:\n    def __init__(self, size=1024):\n        self._data = {}\n        self._size = size",
    "@app.route('/api/v1/orders/<int:order_id>')\ndef get_order(order_id):\n    return jsonify(Order.get(order_id))",
    "with open('report.csv', newline='') as f:\n    reader = csv.DictReader(f)\n    totals = "
    "sum(float(r['amount']) for r in reader)",
    "x = [n ** 2 for n in range(10) if n % 2 == 0]",
    "logger.info('processed %d records in %.2f s', count, elapsed)",
    "async def fetch(session, url):\n    async with session.get(url, timeout=30) as resp:\n        "
    "return await resp.json()",
    "TIMEOUT = 12.5  # seconds\nMAX_RETRIES = 3\nBACKOFF = [0.5, 1.0, 2.0]",
    "assert parse_version('1.2.3') < parse_version('1.10.0')",
    "df = pd.read_parquet('events.parquet')\ndf['ts'] = pd.to_datetime(df['ts'], unit='ms')",
    "ts = datetime(2024, 5, 1, 12, 30, 45, tzinfo=timezone.utc).timestamp()  # 1714566645.0",
    "hashlib.sha256(b'hello').hexdigest()",
    "if __name__ == '__main__':\n    main(sys.argv[1:])",
    "response = requests.get(url, headers={'Authorization': f'Bearer {token}'}, timeout=10)",
    "def check_password(password: str, hashed: bytes) -> bool:\n    return bcrypt.checkpw(password.encode(), hashed)",
    "MAX_INT64 = 9223372036854775807\nMIN_INT64 = -9223372036854775808",
    "pattern = re.compile(r'^(\\d{4})-(\\d{2})-(\\d{2})$')",
    "users.sort(key=lambda u: (u.last_name, u.first_name))",
    "from dataclasses import dataclass\n\n@dataclass(frozen=True)\nclass Point:\n    x: float\n    y: float",
    "try:\n    value = int(text)\nexcept ValueError:\n    value = None",
    "queue = collections.deque(maxlen=100)",
    "np.random.seed(42)\nweights = np.random.normal(0, 0.02, size=(768, 3072))",
    "print(f'{total:,.2f} EUR')",
    "with ThreadPoolExecutor(max_workers=8) as pool:\n    results = list(pool.map(process, chunks))",
    "sys.setrecursionlimit(10_000)",
    "version = importlib.metadata.version('fastavro')  # e.g. '1.9.4'",
    "payload = base64.b64encode(json.dumps(doc).encode()).decode()",
    "matrix = [[0] * cols for _ in range(rows)]",
    "parser.add_argument('--port', type=int, default=8080)",
    "timestamps = [1714566645, 1714566705, 1714566765]",
    "uid = uuid.uuid4()  # e.g. 3f2b8c1e-9d4a-4c7b-8e6f-1a2b3c4d5e6f",
    "counter = Counter(word.lower() for word in text.split())",
    "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a",
    "os.makedirs('/var/lib/app/cache', exist_ok=True)",
    "subprocess.run(['git', 'rev-parse', 'HEAD'], check=True, capture_output=True)",
    "prices = {'basic': 9.99, 'pro': 29.00, 'team': 99.50}",
    "session.headers.update({'User-Agent': 'auditledger/0.1.0'})",
    "time.sleep(0.25)",
    "model = AutoModel.from_pretrained('bert-base-uncased')",
    "return {'status': 'ok', 'elapsed_ms': round(elapsed * 1000, 1)}",
    "secret = os.getenv('API_SECRET')\nif not secret:\n    raise RuntimeError('API_SECRET is not set')",
    "for attempt in range(1, 6):\n    try:\n        return call()\n    except TimeoutError:\n        "
    "time.sleep(2 ** attempt)",
    "assert sha == 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'",
    "SEMVER = re.compile(r'^v?(\\d+)\\.(\\d+)\\.(\\d+)(?:-([0-9A-Za-z.-]+))?$')",
    "chunks = [data[i:i + 4096] for i in range(0, len(data), 4096)]",
    "big = 2 ** 100  # 1267650600228229401496703205376",
    "print(divmod(1714566645, 86400))",
    "@pytest.mark.parametrize('n, expected', [(0, 1), (1, 1), (5, 120)])\ndef test_factorial(n, expected):\n"
    "    assert factorial(n) == expected",
]

JAVASCRIPT = [
    "const total = items.reduce((sum, item) => sum + item.price * item.qty, 0);",
    "fetch('/api/orders?limit=20&page=3').then(r => r.json()).then(render);",
    "export default function Button({ label, onClick }) {\n  return <button onClick={onClick}>{label}</button>;\n}",
    "const id = crypto.randomUUID();",
    "app.get('/health', (req, res) => res.json({ ok: true, uptime: process.uptime() }));",
    "setTimeout(() => controller.abort(), 5000);",
    "const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };",
    "if (password.length < 12) {\n  errors.push('Password must be at least 12 characters');\n}",
    "import { useState, useEffect } from 'react';",
    "const date = new Date('2024-05-01T12:30:45.000Z');",
    "console.log(`Processed ${count} events in ${ms.toFixed(1)} ms`);",
    "module.exports = { port: process.env.PORT || 3000, logLevel: 'info' };",
    "const [first, ...rest] = list;",
    "document.querySelector('#submit').addEventListener('click', onSubmit);",
    "const price = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' }).format(1299.5);",
    "npm install --save-dev typescript@5.4.5 @types/node@20.12.7",
    "const version = '3.2.1';\nif (semver.lt(version, '4.0.0')) warnDeprecated();",
    "await page.goto('https://example.com/login', { waitUntil: 'networkidle' });",
    "const re = /^[a-z0-9_-]{3,16}$/;",
    "Object.entries(counts).sort(([, a], [, b]) => b - a).slice(0, 10);",
    "const MAX_SAFE = 9007199254740991;",
    "localStorage.setItem('theme', 'dark');",
    "router.push({ pathname: '/orders/[id]', query: { id: order.id } });",
    "const sum = (a, b) => a + b;\ntest('adds', () => expect(sum(1, 2)).toBe(3));",
    "const ws = new WebSocket('wss://stream.example.com/v2/feed');",
    "process.on('SIGTERM', () => server.close(() => process.exit(0)));",
    "const hash = createHash('sha256').update(buf).digest('hex');",
    "const ms = Date.now(); // 1714566645123",
    "try {\n  JSON.parse(text);\n} catch (e) {\n  console.error('invalid JSON', e.message);\n}",
    "export const config = { runtime: 'edge', regions: ['fra1', 'iad1'] };",
    "const bigint = 123456789012345678901234567890n;",
    "el.style.transform = `translate(${x}px, ${y}px) rotate(${deg}deg)`;",
    "for (const [k, v] of map) total += v;",
    "const { data, error } = await supabase.from('orders').select('*').eq('status', 'open');",
    "// TODO: remove after v2.0.0 is released",
    "const color = '#3b82f6';",
    "queueMicrotask(flush);",
    "const url = new URL('/search?q=kafka+streams&lang=en', 'https://docs.example.org');",
    "array.findIndex(x => x.id === target) !== -1",
    "const isoWeek = Math.ceil(((d - yearStart) / 86400000 + 1) / 7);",
]

GO = [
    "func Add(a, b int) int {\n\treturn a + b\n}",
    "ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)\ndefer cancel()",
    'if err != nil {\n\treturn fmt.Errorf("open %s: %w", path, err)\n}',
    'type Order struct {\n\tID        int64     `json:"id"`\n\tCreatedAt time.Time `json:"created_at"`\n}',
    "for i := 0; i < len(items); i++ {\n\ttotal += items[i].Price\n}",
    "var mu sync.Mutex\nmu.Lock()\ncount++\nmu.Unlock()",
    'http.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })',
    "go func() {\n\tfor msg := range ch {\n\t\tprocess(msg)\n\t}\n}()",
    "const maxUint64 = 18446744073709551615",
    "id := uuid.New().String()",
    'log.Printf("took %v for %d rows", time.Since(start), n)',
    "sum := sha256.Sum256(data)\nfmt.Println(hex.EncodeToString(sum[:]))",
    "module github.com/example/ledger\n\ngo 1.22\n\nrequire github.com/segmentio/kafka-go v0.4.47",
    "select {\ncase <-ctx.Done():\n\treturn ctx.Err()\ncase v := <-results:\n\treturn v\n}",
    'password := os.Getenv("DB_PASSWORD")\nif password == "" {\n\tlog.Fatal("DB_PASSWORD not set")\n}',
    't, err := time.Parse(time.RFC3339, "2024-05-01T12:30:45Z")',
    'b, _ := json.MarshalIndent(cfg, "", "  ")',
    "slices.SortFunc(users, func(a, b User) int { return cmp.Compare(a.Age, b.Age) })",
    'req.Header.Set("Authorization", "Bearer "+token)',
    "wg.Add(len(jobs))\nfor _, j := range jobs {\n\tgo worker(j, &wg)\n}\nwg.Wait()",
    'var ErrNotFound = errors.New("not found")',
    'fmt.Sprintf("%08.3f", 3.14159)',
    "buf := make([]byte, 0, 4096)",
    "deadline := time.Unix(1714566645, 0).UTC()",
    "switch r.Method {\ncase http.MethodGet:\n\tlist(w, r)\ncase http.MethodPost:\n\tcreate(w, r)\n}",
    "atomic.AddInt64(&hits, 1)",
    'rows, err := db.QueryContext(ctx, "SELECT id, name FROM teams WHERE org_id = $1", orgID)',
    "//go:embed templates/*.html\nvar templates embed.FS",
    "n, err := strconv.ParseInt(s, 10, 64)",
    "fmt.Println(runtime.Version()) // go1.22.3",
]

CPP = [
    "std::vector<int> v{1, 2, 3};\nstd::sort(v.begin(), v.end());",
    "for (auto& [key, value] : map) {\n    std::cout << key << \": \" << value << '\\n';\n}",
    "auto ptr = std::make_unique<Widget>(42);",
    "namespace a::b {\nint f() { return 1; }\n}",
    "std::chrono::milliseconds timeout{1500};",
    "template <typename T>\nT max(const T& a, const T& b) { return a < b ? b : a; }",
    "std::unordered_map<std::string, std::vector<double>> series;",
    "constexpr uint64_t kMax = 18446744073709551615ULL;",
    'if (rc != SQLITE_OK) {\n    fprintf(stderr, "sqlite error %d\\n", rc);\n}',
    "std::lock_guard<std::mutex> lock(mu_);",
    "int main(int argc, char** argv) {\n    return run(argc, argv);\n}",
    "Foo::Bar::baz(x, y);",
    'std::string s = absl::StrCat("id=", id, " v=", version);',
    'static_assert(sizeof(void*) == 8, "64-bit only");',
    "using Clock = std::chrono::steady_clock;\nauto t0 = Clock::now();",
    "std::array<uint8_t, 32> digest{};\nSHA256(data, len, digest.data());",
    "class Node {\n public:\n  explicit Node(int v) : value_(v) {}\n private:\n  int value_;\n};",
    "std::thread t([&] { worker.run(); });\nt.join();",
    "auto it = std::find_if(v.begin(), v.end(), [](int x) { return x > 10; });",
    "#include <iostream>\n#include <vector>\n#include <algorithm>",
    "std::optional<std::string> name = lookup(id);",
    "double pi = 3.14159265358979323846;",
    "std::map<int, std::string>::iterator it = m.find(7);",
    "::operator delete(p);",
    "std::cout << std::hex << 0xDEADBEEF << std::endl;",
    "boost::asio::io_context io;\nboost::asio::steady_timer timer(io, std::chrono::seconds(5));",
    "std::span<const std::byte> view{buffer.data(), buffer.size()};",
    "enum class Color : uint8_t { Red = 1, Green = 2, Blue = 3 };",
    "auto [it, inserted] = cache.try_emplace(key, value);",
    "std::atomic<int64_t> counter{0};",
]

SQL = [
    "SELECT id, name, created_at FROM customers WHERE region = 'EU' ORDER BY created_at DESC LIMIT 50;",
    "SELECT c.name, SUM(o.total) AS revenue FROM customers c JOIN orders o ON o.customer_id = c.id "
    "WHERE o.created_at >= '2023-01-01' GROUP BY c.name ORDER BY revenue DESC LIMIT 10;",
    "CREATE TABLE orders (\n  id BIGINT PRIMARY KEY,\n  customer_id BIGINT NOT NULL,\n  total NUMERIC(12, 2),\n"
    "  created_at TIMESTAMPTZ DEFAULT now()\n);",
    "CREATE INDEX idx_orders_customer_created ON orders (customer_id, created_at);",
    "UPDATE orders SET status = 'shipped', shipped_at = '2024-05-02 09:15:00' WHERE id = 558812;",
    "DELETE FROM sessions WHERE expires_at < now() - interval '30 days';",
    "INSERT INTO products (sku, name, price) VALUES ('SKU-10442', 'Desk lamp', 39.90), ('SKU-10443', 'Chair', 149.00);",
    "SELECT COUNT(*) FROM events WHERE ts BETWEEN 1714521600000 AND 1714607999999;",
    "WITH recent AS (SELECT * FROM logins WHERE at > now() - interval '1 hour') SELECT user_id, COUNT(*) "
    "FROM recent GROUP BY user_id HAVING COUNT(*) > 5;",
    "ALTER TABLE users ADD COLUMN password_changed_at TIMESTAMPTZ;",
    "SELECT * FROM pg_stat_activity WHERE state = 'active' AND query_start < now() - interval '5 minutes';",
    "EXPLAIN ANALYZE SELECT * FROM orders WHERE customer_id = 42;",
    "SELECT date_trunc('day', created_at) AS day, COUNT(*) FROM signups GROUP BY 1 ORDER BY 1;",
    "SELECT id FROM invoices WHERE amount > 1000.00 AND currency = 'USD' AND paid = false;",
    "CREATE TABLE audit.events (event_id UUID, tenant String, occurred_at DateTime64(6, 'UTC')) "
    "ENGINE = MergeTree ORDER BY (tenant, occurred_at);",
    "SELECT toStartOfHour(occurred_at) AS h, count() FROM audit.events WHERE tenant = 'acme' GROUP BY h ORDER BY h;",
    "SELECT name FROM sqlite_master WHERE type = 'table';",
    "DROP TABLE IF EXISTS tmp_import_20240501;",
    "SELECT o.id, o.total, o.created_at FROM orders o JOIN customers c ON c.id = o.customer_id "
    "WHERE o.created_at > '2024-05-01' ORDER BY o.created_at DESC LIMIT 5",
    "SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) FROM requests WHERE route = '/api/search';",
    "GRANT SELECT ON ALL TABLES IN SCHEMA reporting TO analyst;",
    "SELECT * FROM orders WHERE id IN (100234, 100235, 100236, 100237);",
    "SELECT md5(concat(id, ':', updated_at)) FROM documents LIMIT 3;",
    "SELECT version();  -- PostgreSQL 15.6 on x86_64-pc-linux-gnu",
    "SELECT id, payload->>'kind' AS kind FROM jobs WHERE payload @> '{\"queue\": \"default\"}';",
    "CREATE MATERIALIZED VIEW daily_revenue AS SELECT date(created_at) d, SUM(total) FROM orders GROUP BY 1;",
    "SELECT * FROM shipments WHERE tracking_number = '1Z999AA10123456784';",
    "SELECT COALESCE(nickname, first_name) AS display FROM members WHERE team_id = 7;",
    "SELECT extract(epoch FROM now())::bigint;",
    "VACUUM (VERBOSE, ANALYZE) orders;",
    "SELECT * FROM inventory WHERE warehouse = 'FRA-2' AND quantity < reorder_level;",
    "SELECT a.id, b.id FROM a LEFT JOIN b USING (key) WHERE b.id IS NULL;",
    "SELECT country, AVG(price)::numeric(10,2) FROM listings GROUP BY country HAVING COUNT(*) > 100;",
    "CREATE UNIQUE INDEX CONCURRENTLY users_lower_username ON users (lower(username));",
    "SELECT * FROM generate_series('2024-01-01'::date, '2024-12-31'::date, '1 month');",
    "SELECT event_id FROM audit.events WHERE event_id = '0b6c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3';",
    "SELECT id, sha256 FROM artifacts WHERE sha256 LIKE 'e3b0c442%';",
    "BEGIN; UPDATE accounts SET balance = balance - 250.00 WHERE id = 1; "
    "UPDATE accounts SET balance = balance + 250.00 WHERE id = 2; COMMIT;",
    "SELECT * FROM releases WHERE version >= '10.0.19041.1' ORDER BY released_at;",
    "SELECT substring(name, 1, 20), length(description) FROM products WHERE length(description) > 500;",
    "SELECT * FROM t WHERE created_at >= '2024-05-01 12:30:45' AND created_at < '2024-05-01 13:30:45';",
    "SHOW TABLES LIKE 'order%';",
    "SELECT user_id, ROW_NUMBER() OVER (PARTITION BY team ORDER BY score DESC) AS rank FROM scores;",
    "TRUNCATE staging.raw_clicks;",
    "SELECT 9223372036854775807::bigint AS max_bigint;",
    "SELECT * FROM orders WHERE order_number = 'ORD-2024-004512';",
    "CREATE TYPE order_status AS ENUM ('pending', 'paid', 'shipped', 'cancelled');",
    "SELECT name FROM settings WHERE key = 'password_min_length';",
    "SELECT * FROM tickets WHERE title ILIKE '%password reset%' AND created_at > now() - interval '7 days';",
    "SELECT id FROM documents WHERE checksum = 'da39a3ee5e6b4b0d3255bfef95601890afd80709';",
    "SELECT ROUND(AVG(total), 2) FROM orders WHERE created_at::date = '2024-05-01';",
    "CREATE SEQUENCE invoice_seq START 100000 INCREMENT 1;",
    "SELECT nextval('invoice_seq');",
    "SELECT * FROM metrics WHERE host = 'worker-3' AND ts > 1714566645 ORDER BY ts;",
    "INSERT INTO feature_flags (name, enabled, rollout) VALUES ('new_checkout', true, 0.25);",
    "SELECT * FROM orders o WHERE NOT EXISTS (SELECT 1 FROM refunds r WHERE r.order_id = o.id);",
    "SELECT id, title FROM posts WHERE to_tsvector(body) @@ to_tsquery('kafka & streams');",
    "ALTER TABLE events ALTER COLUMN payload TYPE JSONB USING payload::jsonb;",
    "SELECT 1;",
]

JSON_TOOL_ARGS = [
    {"query": "late delivery complaints", "limit": 5, "since": "2024-05-01T00:00:00Z"},
    {"city": "Lisbon", "days": 3, "budget_eur": 400},
    {"repo": "example/ledger", "branch": "main", "sha": "9fceb02d0ae598e95dc970b74767f19372d61af8"},
    {"order_ids": [100234, 100235, 100236], "include_items": True},
    {"model": "gpt-4o-mini", "temperature": 0.2, "max_tokens": 1024, "top_p": 1},
    {"url": "https://docs.python.org/3/library/json.html", "extract": "headings"},
    {"sql": "SELECT COUNT(*) FROM orders WHERE status = 'open'", "timeout_s": 30},
    {"path": "/var/log/app/app.log", "lines": 200, "grep": "ERROR"},
    {"from": "EUR", "to": "USD", "amount": 1249.97},
    {"ticket": "INC-20931", "fields": ["status", "assignee", "priority"]},
    {"request_id": "3f2b8c1e-9d4a-4c7b-8e6f-1a2b3c4d5e6f", "retry": 2},
    {"action": "resize", "width": 1920, "height": 1080, "format": "webp"},
    {"expression": "(12.5 * 4) / 3 + 7", "precision": 4},
    {"package": "fastavro", "version": "1.9.4"},
    {"start": 1714566645, "end": 1714653045, "granularity": "1h"},
    {"filter": {"region": "EU", "tier": ["pro", "team"]}, "sort": "-created_at", "page": 2},
    {"text": "The bearer of this note is cleared for entry.", "target_lang": "de"},
    {"topic": "audit.events", "partition": 3, "offset": 1844674407},
    {"image_sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"question": "how do I reset my password?", "kb": "helpdesk", "top_k": 4},
    {"lat": 38.7223, "lon": -9.1393, "radius_km": 2.5},
    {"cron": "*/15 * * * *", "job": "sync-inventory"},
    {"sku": "SKU-10442", "quantity": 3, "unit_price": 39.9},
    {"version_from": "10.0.19041.1", "version_to": "10.0.22631.3447"},
    {
        "docker_image": "python:3.11-slim",
        "digest": "sha256:1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d",
    },
    {"namespace": "payments", "deployment": "api", "replicas": 6},
    {"query": "std::vector erase remove idiom", "site": "cppreference"},
    {"chart": "line", "series": [[1714566645000, 12.3], [1714566705000, 12.9], [1714566765000, 13.4]]},
    {"note": "Order #558812 delayed by carrier; new ETA 2024-05-06."},
    {"thumbnail": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="},
    {"keywords": ["kafka", "clickhouse", "merkle tree"], "lang": "en"},
    {"uuid": "550e8400-e29b-41d4-a716-446655440000", "kind": "job"},
    {"dry_run": True, "migrations": ["0007_add_index", "0008_backfill"]},
    {"range": "A1:F200", "sheet": "Q3 2024"},
    {"currency": "JPY", "amount": 1500000},
    {"timezone": "Europe/Lisbon", "time": "12:30:45"},
    {"hosts": ["worker-1", "worker-2", "worker-3"], "command": "uptime"},
    {"title": "Weekly sync", "start": "2024-05-07T10:30:00+01:00", "duration_min": 45},
    {"metric": "p99_latency_ms", "threshold": 250, "window": "5m"},
    {"id": 9007199254740993, "type": "snowflake"},
    {"file": "report_2024-05-01.pdf", "pages": [1, 2, 5]},
    {"prompt_tokens": 1532, "completion_tokens": 211, "total_tokens": 1743},
    {"commit": "a1b2c3d", "message": "Fix off-by-one in pagination"},
    {"url": "https://api.example.com/v2/orders?status=open&page=3&per_page=50"},
    {"recipe": "vegetable curry", "servings": 4, "diet": "vegan"},
    {"schedule": {"mon": "09:00-17:00", "fri": "09:00-13:00"}},
    {"checksum_md5": "9e107d9d372bb6826bd81d3542a419d6", "size": 43},
    {"isbn": "978-0-13-468599-1", "title": "The Pragmatic Programmer"},
    {"amount": "1,299.00", "tax_rate": "8.25%"},
    {"pattern": "^v?(\\d+)\\.(\\d+)\\.(\\d+)$", "input": "v2.14.0"},
]

LOG_LINES = [
    "2024-05-01T12:30:45.123Z INFO  worker-3 processed 1284 events in 812 ms",
    "2024-05-01 12:30:46,004 WARNING retrying request (attempt 2 of 5) after 1.5s",
    "[2024-05-01 12:31:02] ERROR orders.sync: upstream returned 503 Service Unavailable",
    "May  1 12:30:45 worker-3 systemd[1]: Started Audit ledger worker.",
    'level=info ts=2024-05-01T12:30:45Z caller=main.go:88 msg="listening" port=8080',
    "GET /api/v1/orders/558812 200 12.4ms",
    'POST /api/v1/sessions 401 3.1ms reason="expired session"',
    "kafka: partition 3 lagging by 18446 messages (threshold 10000)",
    "clickhouse: inserted 50000 rows into audit.events in 0.84 s",
    "checkpoint 4412 signed with key 7c1f9a2e, tree size 1048576",
    "user agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.91",
    "GC pause 12.3ms, heap 512MiB -> 388MiB",
    "job sync-inventory finished: 312 updated, 4 skipped, 0 failed (took 00:02:13)",
    "deploy: rolling out api v2.14.0 (image sha256:9b2f6c1d0e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c)",
    "cache hit ratio 0.973 over the last 3600 s",
    "panic: runtime error: index out of range [5] with length 5",
    'Traceback (most recent call last):\n  File "/app/main.py", line 42, in <module>\n    main()\n'
    "ValueError: invalid literal for int() with base 10: 'abc'",
    "WARN password policy: 17 accounts have not rotated their password in 180 days",
    "INFO login succeeded for subject agent-7 via sso (session 81f2c0d4)",
    "trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7 status=OK",
    "rate limiter: bucket api/search refilled, tokens=100/100",
    "disk /dev/nvme0n1p2 at 81% (412G of 512G)",
    "scheduled backup 2024-05-01_0300 completed, 18.2 GiB, checksum ok",
    "cert for api.example.com expires in 23 days (2024-05-24T08:00:00Z)",
    "config reloaded from /etc/auditledger/policy.yaml (digest 3a7bd3e2360a3d29eea436fcfb7e44c735d117c4)",
    "HTTP/1.1 302 Found Location: https://example.com/login?next=%2Fdashboard",
    "retry budget exhausted for order 558812 after 5 attempts",
    "node lookup (graph run 7d9e) finished in 0.41 s with 3 tool calls",
    "consumer group ledger-writers rebalanced: 6 members, 24 partitions",
    "build #4821 passed on main (commit 9fceb02) in 6m 41s",
    "slow query (2.31 s): SELECT * FROM orders WHERE created_at > '2024-04-01'",
    "token bucket refilled; bearer tokens are never logged by this service",
    "memory: rss=734003200 vms=1572864000",
    "received SIGTERM, draining 12 in-flight requests",
    "feature flag new_checkout at 25% rollout",
    "epoch 3/10 loss=0.4182 acc=0.8731 lr=3.0e-4",
    "uploaded 1,024 parts (5.0 GiB) in 00:01:52",
    "ntp offset +0.003 s, stratum 2",
    "client closed connection after 30.000 s idle",
    "jwt verification failed: token expired at 2024-05-01T12:00:00Z",
]

HARD_CASES = [
    "The new build is 10.0.19041.1 and the previous one was 10.0.18363.1556.",
    "Upgrade from 1.2.3 to 1.10.0, then to 2.0.0-rc.1.",
    "Versions 4.1.1.3 and 4.1.1.4 of the plugin are affected (5-part: 4.1.1.3.2).",
    "Meet at 12:30:45 sharp; the backup runs at 03:15:00.",
    "Timestamps: 2024-05-01T12:30:45Z, 2024-05-01T12:30:45.123456+02:00, 2024-05-01 12:30:45",
    "std::vector<std::string> names; std::map<int, a::b::C> index;",
    "Call a::b() then c::d::e() and finally ::global().",
    "The Python slice x[::2] takes every other element; x[1::3] starts at 1.",
    "Haskell signature: fmap :: Functor f => (a -> b) -> f a -> f b",
    "The price is $1,299.99 (was $1,499.99), or €1.199,00 in Germany.",
    "Order number 4521-8890-1123 was refunded.",
    "Invoice INV-2024-000871 total 12,450.00 USD",
    "Tracking: 1Z999AA10123456784",
    "Epoch seconds 1714566645, milliseconds 1714566645123, nanoseconds 1714566645123456789.",
    "2^63 - 1 = 9223372036854775807 and 2^64 = 18446744073709551616.",
    "The largest 128-bit unsigned value is 340282366920938463463374607431768211455.",
    "UUID 550e8400-e29b-41d4-a716-446655440000 identifies the job.",
    "SHA-256 of the empty string is e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.",
    "git commit 9fceb02d0ae598e95dc970b74767f19372d61af8 (short 9fceb02)",
    "MD5 d41d8cd98f00b204e9800998ecf8427e, SHA-1 da39a3ee5e6b4b0d3255bfef95601890afd80709",
    "base64 of 'hello world' is aGVsbG8gd29ybGQ=",
    ""
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
    "Please enter your password twice; passwords must be 12 characters or more.",
    "The password field is empty.",
    "Password reset emails are sent from the helpdesk system within 5 minutes.",
    "Never share your password, not even with IT.",
    "the password=secret example in the docs is only an illustration",
    "See https://example.com/docs/v2/api?lang=en#authentication for details.",
    "Clone https://github.com/example/ledger.git and run make test.",
    "Download from ftp://ftp.example.org/pub/releases/ledger-1.4.2.tar.gz",
    "The bearer of this note, Mr. Smith's assistant, may pick up the parcel.",
    "Bearer authentication is defined in RFC 6750; the bearer token goes in the header.",
    "Basic auth over plain HTTP is a bad idea.",
    "Coordinates 38.7223, -9.1393 (Lisbon).",
    "Room 4.12, floor 4, building B.",
    "ISBN 978-0-13-468599-1 and ISSN 0317-8471.",
    "Part number 100-200-3000 ships from warehouse 12.",
    "The ratio is 1:2:3 and the aspect ratio 16:9.",
    "Score 3-1 after extra time; attendance 61,284.",
    "Matrix row: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16",
    "Dimensions 1920x1080, 3840x2160; refresh 144 Hz.",
    "Temperature ranged from -12.5 to +31.2 degrees.",
    "Call extension 4412 or use the chat.",
    "Amounts: 0.1, 0.25, 12.5, 100.00, 1e-9, 6.022e23",
    "Snowflake ids 1790123456789012480 and 1790123456789012481",
    "Phone-like but not a phone: 2024-05-01-1230",
    "The sequence 4 8 15 16 23 42 appears in the show.",
    "Zip 94103-1234, box 12345",
    "Color #3b82f6 and rgba(59, 130, 246, 0.5)",
    "The SKU AB-1234-XY is out of stock.",
    "Hex dump: 48 65 6c 6c 6f 20 57 6f 72 6c 64",
    "MAC-style label 00:1a:2b:3c:4d:5e on the test rig",
    "CIDR notation uses a slash and a prefix length, like /24 or /16.",
    "ed25519 public key fingerprint SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s",
    "The task took 1h 12m 30s (4350 s).",
    "Release 2024.05.01 replaces 2024.04.15.",
    "Node v20.12.2, npm 10.5.0, pnpm 9.0.6",
    "kernel 6.8.0-31-generic #31-Ubuntu SMP",
    "Build 22631.3447 of Windows 11 23H2.",
    "Ratio of 3.14159265358979 to 2.71828182845904.",
    "Account balance: 12,345,678.90",
    "ticket#558812 and PR #4412",
    "AWS region eu-west-1, instance type m6i.2xlarge, AMI ami-0c55b159cbfafe1f0",
    "ARN arn:aws:iam::123456789012:role/ledger-writer",
    "S3 path s3://ledger-archive/2024/05/01/part-00042.parquet",
    "The model sk-learn is not a real library name; scikit-learn is.",
    "risk-assessment-framework-v2-2024 is the document id.",
    "The ghost_of_christmas_past variable is unused.",
    "Token counts: prompt 1532, completion 211.",
    "eyJ is how a base64-encoded JSON object starts.",
    "-----BEGIN PUBLIC "
    "KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEVs/o5+uQbTjL3chynL4wXgUg2R9\n-----END PUBLIC KEY-----",
    "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUJ2c3xZ7fQ\n-----END CERTIFICATE-----",
    "The key id is mk-default and the policy digest 3a7bd3e2360a3d29eea436fcfb7e44c735d117c4.",
    "Redis URL redis://cache.internal:6379/0 (no auth on the private network).",
    "jdbc:postgresql://db.internal:5432/orders?sslmode=require",
    "mongodb+srv://cluster0.example.mongodb.net/?retryWrites=true&w=majority",
    "The quick brown fox jumps over the lazy dog.",
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.",
    "Item 1 of 3: 'Desk lamp' x2 @ 39.90 = 79.80",
    "Shipped 2024-05-02, delivered 2024-05-04, returned 2024-05-10.",
    "Flight LH1167 departs 06:55 from gate A12.",
    "Chapter 12.3.4, paragraph 7.",
    "Python 3.11.7 (main, Dec 2023) [GCC 12.2.0] on linux",
    "E.164 numbers start with a plus sign and a country code.",
    "The algorithm runs in O(n log n) with n = 1,000,000.",
    "kubectl get pods -n payments -l app=api --field-selector=status.phase=Running",
    "curl -s https://api.example.com/v1/status | jq .version",
    "docker run --rm -p 8080:8080 -e LOG_LEVEL=debug ledger:1.4.2",
    "pip install 'fastavro>=1.9,<2' 'ruff==0.5.7'",
    "The IBAN field is optional for domestic transfers.",
    "Social security is a government program; nothing here is a number.",
    "SSN stands for Social Security Number.",
    "Your card ending in 4242 expires 09/27.",
    "Use the test card number from the payment provider's documentation in staging.",
    "Set the env var API_KEY before starting; it is read once at startup.",
    "The authorization header was missing from the request.",
    "10.5% of requests took longer than 2.0 s.",
    "Numbers like 1.1.1 and 2.2.2.2.2 are not addresses.",
    "x = 12:30 and y = 45:00 in the timesheet",
    "Vector clocks: {a: 3, b: 1, c: 7}",
    "Patch notes 3.2.1.4.5: performance fixes.",
    "CVE-2024-3094 affects xz 5.6.0 and 5.6.1.",
    "sha512 digest cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f"
    "63b931bd47417a81a538327af927da3e",
]


def _templated() -> list[tuple[str, str]]:
    """Fields built from templates with deterministic pseudo-random identifiers and numbers."""
    rnd = random.Random(20240501)
    start = datetime(2024, 5, 1, 0, 0, 0, tzinfo=UTC)
    out: list[tuple[str, str]] = []
    services = ("api", "worker", "scheduler", "ingest", "billing", "search")
    routes = ("/api/v1/orders", "/api/v1/customers", "/api/v2/search", "/healthz", "/api/v1/invoices")
    for _ in range(60):
        ts = start + timedelta(seconds=rnd.randint(0, 86400 * 30), microseconds=rnd.randint(0, 999999))
        req = uuid.UUID(int=rnd.getrandbits(128), version=4)
        ms = rnd.randint(1, 4000) / 10
        status = rnd.choice((200, 200, 200, 201, 204, 304, 400, 404, 500, 503))
        route = rnd.choice(routes)
        out.append(
            (
                "log",
                f"{ts.isoformat().replace('+00:00', 'Z')} {rnd.choice(services)} request_id={req} "
                f"{rnd.choice(('GET', 'POST', 'PUT'))} {route}/{rnd.randint(1, 999999)} {status} {ms}ms",
            )
        )
    for i in range(40):
        digest = hashlib.sha256(f"artifact-{i}".encode()).hexdigest()
        commit = hashlib.sha1(f"commit-{i}".encode()).hexdigest()
        major, minor, patch = rnd.randint(0, 12), rnd.randint(0, 30), rnd.randint(0, 200)
        out.append(
            (
                "log",
                f"built ledger {major}.{minor}.{patch} from {commit[:12]} (full {commit}); artifact sha256:{digest}",
            )
        )
    for _ in range(40):
        epoch = int((start + timedelta(seconds=rnd.randint(0, 86400 * 365))).timestamp())
        order = rnd.randint(100000, 99999999)
        price = rnd.randint(100, 500000) / 100
        out.append(
            (
                "response",
                f"Order {order} was placed at epoch {epoch} ({epoch * 1000} ms) for ${price:,.2f}; "
                f"{rnd.randint(1, 9)} items, status {rnd.choice(('paid', 'shipped', 'pending'))}.",
            )
        )
    for i in range(40):
        doc = {
            "id": str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
            "created_at": (start + timedelta(seconds=rnd.randint(0, 10**7))).isoformat(),
            "amount": round(rnd.uniform(1, 5000), 2),
            "count": rnd.randint(0, 10**6),
            "tags": rnd.sample(["urgent", "eu", "us", "retry", "vip", "backfill", "manual"], 2),
            "version": f"{rnd.randint(1, 5)}.{rnd.randint(0, 20)}.{rnd.randint(0, 99)}",
            "checksum": hashlib.md5(f"doc-{i}".encode()).hexdigest(),  # noqa: S324 - test data
        }
        out.append(("json", json.dumps(doc)))
    for i in range(30):
        blob = base64.b64encode(rnd.randbytes(rnd.randint(12, 96))).decode()
        out.append(("hard", f"attachment chunk {i}: {blob}"))
    for _ in range(30):
        a, b, c = rnd.randint(0, 23), rnd.randint(0, 59), rnd.randint(0, 59)
        build = f"{rnd.randint(6, 10)}.{rnd.randint(0, 3)}.{rnd.randint(10000, 22999)}.{rnd.randint(1, 4000)}"
        out.append(("hard", f"At {a:02d}:{b:02d}:{c:02d} the agent upgraded the runtime to build {build}."))
    for _ in range(20):
        big = rnd.getrandbits(rnd.choice((64, 96, 128)))
        out.append(("hard", f"counter overflowed at {big}; resetting shard {rnd.randint(0, 63)}"))
    return out


def _corpus() -> list[tuple[str, str]]:
    corpus: list[tuple[str, str]] = []
    corpus += [("prompt", t) for t in PROMPTS]
    corpus += [("response", t) for t in RESPONSES]
    corpus += [("python", t) for t in PYTHON]
    corpus += [("javascript", t) for t in JAVASCRIPT]
    corpus += [("go", t) for t in GO]
    corpus += [("cpp", t) for t in CPP]
    corpus += [("sql", t) for t in SQL]
    corpus += [("json", json.dumps(doc)) for doc in JSON_TOOL_ARGS]
    corpus += [("log", t) for t in LOG_LINES]
    corpus += [("hard", t) for t in HARD_CASES]
    corpus += _templated()
    return corpus


CORPUS: list[tuple[str, str]] = _corpus()
