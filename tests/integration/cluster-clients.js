// cluster-clients.js CLIENT PORT: drives a real Node.js cluster client
// (ioredis Cluster or node-redis createCluster) through redsleeve's
// cluster mode on 127.0.0.1:PORT, and prints one JSON line of what it saw.
// Used by 51-cluster-node-clients.sh.
'use strict';
const path = require('path');
const mods = path.join(__dirname, '..', 'node', 'node_modules');
const which = process.argv[2];
const port = Number(process.argv[3]);
const N = 300;
let step = 'start';   // where a timeout found it

function wait(ms) { return new Promise((r) => setTimeout(r, ms)); }

async function ioredisRun() {
    const Redis = require(path.join(mods, 'ioredis'));
    const rc = new Redis.Cluster([{ host: '127.0.0.1', port }],
                                 { shardedSubscribers: true });
    const out = { client: 'ioredis' };
    await rc.set('probe', '1');
    const masters = rc.nodes('master');
    out.masters = masters.length;
    out.local = rc.nodes('all').every((n) => n.options.host === '127.0.0.1');
    for (let i = 0; i < N; i++) await rc.set(`io:${i}`, String(i));
    let good = 0;
    for (let i = 0; i < N; i++) if ((await rc.get(`io:${i}`)) === String(i)) good++;
    out.keys = good;
    step = 'a pipeline of 50 commands (one slot, as ';
    // a pipeline of 50 commands (one slot, as ioredis Cluster requires)
    const pl = rc.pipeline();
    for (let i = 0; i < 50; i++) pl.incr(`{p}:n${i}`);
    out.pipeline = (await pl.exec()).filter(([e]) => e === null).length;
    step = 'MULTI in one slot';
    // MULTI in one slot
    const ex = await rc.multi().set('{t}a', 'x').incr('{t}n').get('{t}a').exec();
    out.multi = ex.length === 3 && ex[2][1] === 'x';
    step = "CROSSSLOT stays the server's own error";
    // CROSSSLOT stays the server's own error
    try { await rc.mset('a1', '1', 'b2', '2'); out.crossslot = false; }
    catch (e) { out.crossslot = /CROSSSLOT/.test(String(e)); }
    step = 'a blocking command answered by another c';
    // a blocking command answered by another connection
    const blocker = rc.duplicate();
    const blp = blocker.blpop('{q}list', 5);
    await wait(200);
    await rc.rpush('{q}list', 'job');
    const got = await blp;
    out.blpop = Array.isArray(got) && got[1] === 'job';
    blocker.disconnect();
    step = "sharded pub/sub (SSUBSCRIBE on the slot'";
    // sharded pub/sub (SSUBSCRIBE on the slot's node)
    const sub = rc.duplicate();
    await sub.ssubscribe('{ch}news');
    const msg = new Promise((r) => sub.on('smessage', (c, m) => r(m)));
    await wait(200);
    await rc.spublish('{ch}news', 'hello');
    out.spubsub = (await Promise.race([msg, wait(3000)])) === 'hello';
    sub.disconnect();
    step = 'classic pub/sub';
    // classic pub/sub
    const sub2 = rc.duplicate();
    await sub2.subscribe('plain');
    const msg2 = new Promise((r) => sub2.on('message', (c, m) => r(m)));
    await wait(200);
    await rc.publish('plain', 'hi');
    out.pubsub = (await Promise.race([msg2, wait(3000)])) === 'hi';
    sub2.disconnect();
    rc.disconnect();
    return out;
}

async function nodeRedisRun() {
    const { createCluster } = require(path.join(mods, 'redis'));
    const rc = createCluster({ rootNodes: [{ url: `redis://127.0.0.1:${port}` }] });
    rc.on('error', (e) => { console.error('cluster error', String(e)); });
    await rc.connect();
    const out = { client: 'node-redis' };
    out.masters = rc.masters.length;
    out.local = rc.masters.concat(rc.replicas).every((n) => n.host === '127.0.0.1');
    for (let i = 0; i < N; i++) await rc.set(`nr:${i}`, String(i));
    let good = 0;
    for (let i = 0; i < N; i++) if ((await rc.get(`nr:${i}`)) === String(i)) good++;
    out.keys = good;
    const ex = await rc.multi().set('{u}a', 'y').incr('{u}n').get('{u}a').exec();
    out.multi = ex.length === 3 && ex[2] === 'y';
    try { await rc.mSet(['a1', '1', 'b2', '2']); out.crossslot = false; }
    catch (e) { out.crossslot = /CROSSSLOT/.test(String(e)); }
    const blocker = rc.duplicate();
    blocker.on('error', () => {});
    await blocker.connect();
    const blp = blocker.blPop('{r}list', 5);
    await wait(200);
    await rc.rPush('{r}list', 'job');
    const got = await blp;
    out.blpop = got !== null && got.element === 'job';
    await blocker.quit();
    let smsg = null;
    await rc.sSubscribe('{ch2}news', (m) => { smsg = m; });
    await wait(200);
    await rc.sPublish('{ch2}news', 'hello');
    for (let i = 0; i < 30 && smsg === null; i++) await wait(100);
    out.spubsub = smsg === 'hello';
    await rc.sUnsubscribe('{ch2}news');
    let msg = null;
    await rc.subscribe('plain2', (m) => { msg = m; });
    await wait(200);
    await rc.publish('plain2', 'hi');
    for (let i = 0; i < 30 && msg === null; i++) await wait(100);
    out.pubsub = msg === 'hi';
    await rc.unsubscribe('plain2');
    await rc.quit();
    return out;
}

(which === 'ioredis' ? ioredisRun() : nodeRedisRun()).then(
    (out) => { console.log(JSON.stringify(out)); process.exit(0); },
    (e) => { console.log(JSON.stringify({ error: String(e && e.stack || e) })); process.exit(1); });
setTimeout(() => { console.log(JSON.stringify({ error: 'timeout at ' + step })); process.exit(1); }, 60000).unref();
