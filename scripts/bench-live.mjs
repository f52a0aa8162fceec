// Live changes under load: 200 open /events streams across 20
// organizations, 50 code edits/s for 20 s; prints how many streams heard
// every change of their own organization and none of another's, and the
// server's resident memory.
//
//   bash scripts/e2e-server.sh &            # a development server on :3100
//   node scripts/bench-live.mjs "$(pgrep -f 'server serve' | head -1)"
import { readFileSync } from 'node:fs';
const base = 'http://127.0.0.1:3100';
const pid = process.argv[2];
const ORGS = 20, STREAMS = 10, RATE = 50, SECONDS = 20;
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

async function call(cookie, endpoint, form) {
  const r = await fetch(`${base}/api/${endpoint}`, {
    method: 'POST', headers: { cookie, accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form), redirect: 'manual',
  });
  return r;
}
const orgs = [];
for (let i = 0; i < ORGS; i++) {
  const id = `${Date.now()}-${i}`;
  const r = await call('', 'accounts/sign_up', { name: `Load ${i}`, email: `load-${id}@example.com`, password: 'correct horse battery staple', organization: `Load ${id}` });
  const cookie = r.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const c = await (await call(cookie, 'codes/create', { code: `L${String(i).padStart(2, '0')}.0`, description: 'Load code', category: 'Load', severity: 'medium', active: 'on' })).json();
  orgs.push({ cookie, code: c.id, version: c.version, heard: [], codes: new Set([c.id]) });
}
console.log(`rss after sign-ups: ${rss().toFixed(1)} MiB`);
const controllers = [];
let foreign = 0;
for (const org of orgs) {
  for (let s = 0; s < STREAMS; s++) {
    const ctl = new AbortController(); controllers.push(ctl);
    const counts = { code: 0 }; org.heard.push(counts);
    const res = await fetch(`${base}/events`, { headers: { cookie: org.cookie }, signal: ctl.signal });
    (async () => {
      const dec = new TextDecoder(); let buf = '';
      try {
        for await (const chunk of res.body) {
          buf += dec.decode(chunk, { stream: true });
          let end;
          while ((end = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, end); buf = buf.slice(end + 2);
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (!/^event: change$/m.test(block) || !data) continue;
            const change = JSON.parse(data);
            if (!change.event_type?.startsWith('code.')) continue;
            if (org.codes.has(change.code_id)) counts.code++; else foreign++;
          }
        }
      } catch {}
    })();
  }
}
console.log(`rss with ${ORGS * STREAMS} streams open: ${rss().toFixed(1)} MiB`);
let sent = 0, refused = 0, peak = 0; const sentPer = new Map(orgs.map((o) => [o, 0]));
const started = Date.now();
for (let tick = 0; tick < RATE * SECONDS; tick++) {
  const due = started + (tick * 1000) / RATE; const wait = due - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const org = orgs[tick % ORGS];
  const version = org.version; org.version++;
  call(org.cookie, 'codes/update', { id: org.code, version: String(version), code: `L${String(tick % ORGS).padStart(2, '0')}.0`, description: `Edit ${tick}`, category: 'Load', severity: 'medium', active: 'on' })
    .then((r) => { if (r.status < 300) { sent++; sentPer.set(org, sentPer.get(org) + 1); } else refused++; });
  if (tick % RATE === 0) peak = Math.max(peak, rss());
}
await new Promise((r) => setTimeout(r, 3000));
peak = Math.max(peak, rss());
let exact = 0, short = 0;
for (const org of orgs) for (const h of org.heard) (h.code === sentPer.get(org) ? exact++ : short++);
console.log(`edits: ${sent} saved, ${refused} refused in ${((Date.now() - started) / 1000).toFixed(1)} s`);
console.log(`streams that heard every change of their organization: ${exact} of ${exact + short}; changes of another organization heard: ${foreign}`);
console.log(`server rss peak during the run: ${peak.toFixed(1)} MiB`);
controllers.forEach((c) => c.abort());
process.exit(0);
