// What a student sees, in a real browser (Debian's Chromium) on the real stack (JupyterHub 3
// + HpcBridgeSpawner + the bridge and its hub service + Slurm): the spawn form, a normal
// start and stop, a queued start that stays alive and is cancelled from the progress page,
// starts refused at once (unknown partition) or by the scheduler, a job that dies while
// starting, and the cluster service down. Every expected text is asserted; screenshots go
// to .test-output/student-ui/ (or $TEST_OUTPUT_DIR/student-ui/).
//
// The admin page shares this stack (one hub, one Slurm for both): a JupyterHub admin and a
// holder of the admin scope log in through the hub, see the sessions the test started and a
// failure with its output tail, stop one with the button (after the confirmation page) and
// see it gone; a student gets 403. Screenshots under .test-output/admin-ui/.
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, loginToHub, outputDir, visibleText, type TestBrowser } from './browser.js';
import { HUB_ADMIN, SCOPE_ADMIN, SERVICE_ACCOUNT, SERVICE_NAME, startStudentStack, type StudentStack } from './student-ui-fixture.js';

const TZ = 'Asia/Tokyo'; // the browser's zone: "your time" must be this, not UTC
let stack: StudentStack;
let tb: TestBrowser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  stack = await startStudentStack();
  tb = await launchBrowser('student-ui');
}, 300_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await tb?.close().catch(() => {});
  await stack?.close();
}, 120_000);

/** Runs in the page before the hub's scripts: every progress event is kept in sessionStorage (it survives the reload at "ready"). */
const RECORD_EVENTS = `
(function () {
  var Original = window.EventSource;
  window.EventSource = function (url, init) {
    var es = new Original(url, init);
    es.addEventListener('message', function (e) {
      var all = JSON.parse(sessionStorage.getItem('hpcb-test-events') || '[]');
      all.push(JSON.parse(e.data));
      sessionStorage.setItem('hpcb-test-events', JSON.stringify(all));
    });
    return es;
  };
})();`;

/** A logged-in student whose progress events are recorded across the page's reload. */
async function student(user: string): Promise<Page> {
  const ctx = await tb.context({ timezoneId: TZ });
  contexts.push(ctx);
  await ctx.addInitScript({ content: RECORD_EVENTS });
  return loginToHub(ctx, stack.hub.url, user);
}

async function recordedEvents(page: Page): Promise<{ message?: string; html_message?: string; failed?: boolean }[]> {
  return JSON.parse(((await page.evaluate("sessionStorage.getItem('hpcb-test-events')")) as string | null) ?? '[]');
}

/** HH:MM of `t` in the browser's zone. */
function hhmm(t: number): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone: TZ, hour: '2-digit', minute: '2-digit', hour12: false }).format(t);
}

/** Any of the minutes around `t` (the server rounds differently by up to a minute). */
const minutesAround = (t: number, spread = 1) => Array.from({ length: 2 * spread + 1 }, (_, i) => hhmm(t + (i - spread) * 60_000));

async function startWith(page: Page, profile: string): Promise<void> {
  await page.goto(`${stack.hub.url}/hub/spawn`);
  await page.check(`input[name="profile"][value="${profile}"]`);
  await page.click('input[type="submit"]');
}

const jobsOf = async (user: string) => (await stack.slurm.squeue()).filter((j) => j.name === `jupyterhub-${user}`);

describe('what a student sees', () => {
  it('the form shows what each choice gives; a start lands in the notebook; "ready" tells the time limit; a stop says the job ended and the files are kept', async () => {
    const page = await student('ann');
    await page.goto(`${stack.hub.url}/hub/spawn`);
    expect(await page.locator('.hpcb-choice').count()).toBe(4);
    expect(await visibleText(page, '[data-profile="small"]')).toBe('Small 1 CPU · 256 MB memory · no GPU · up to 30 min For exercises and reading.');
    // a description equal to the name is not printed twice
    expect(await visibleText(page, '[data-profile="two"]')).toBe('Two CPUs 2 CPUs · 512 MB memory · no GPU · up to 2 h');
    expect(await visibleText(page, '[data-profile="gpu"]')).toBe('GPU (1 GPU) 4 CPUs · 1 GB memory · 1 GPU · up to 4 h For deep learning. Not available now: the cluster has no partition "gpu".');
    expect(await page.locator('input[value="gpu"]').isDisabled()).toBe(true);
    await tb.screenshot(page, '01-form');

    const t0 = Date.now();
    await startWith(page, 'small');
    await page.waitForURL(/\/user\/ann\//, { timeout: 90_000 });
    const events = await recordedEvents(page);
    const text = events.map((e) => e.message ?? '').join('\n');
    expect(text).toMatch(/Submitted batch job \d+/);
    expect(text).toMatch(/running on node/);
    const ready = events.map((e) => e.message ?? '').find((m) => m.startsWith('Your server is ready on'));
    expect(ready, text).toMatch(/^Your server is ready on \S+\. It runs until (\d\d:\d\d) your time \(30 min limit\); save your work before then\.$/);
    expect(minutesAround(t0 + 30 * 60_000, 2)).toContain(/until (\d\d:\d\d)/.exec(ready!)![1]);
    await tb.screenshot(page, '02-notebook');

    await page.goto(`${stack.hub.url}/hub/home`, { waitUntil: 'networkidle' });
    await page.click('#stop');
    await expect.poll(async () => (await stack.hub.api('GET', '/users/ann')).json?.servers?.[''] ?? null, { timeout: 60_000 }).toBeNull();
    await expect
      .poll(async () => {
        await page.goto(`${stack.hub.url}/services/${SERVICE_NAME}/`);
        return visibleText(page, 'main');
      }, { timeout: 30_000 })
      .toMatch(/Your server was stopped: job \d+ has ended and your files are kept \(reference: job \d+\)\./);
    await tb.screenshot(page, '03-stopped');
  });

  it('a queued start updates itself, says when it expects to start (local time, at the latest), and can be cancelled from its page', async () => {
    const blocker = await stack.slurm.run(['sbatch', '--parsable', '--cpus-per-task=20', '--mem=256M', '--time=10', '--job-name=blocker', '--wrap', 'sleep 600', '--output=/dev/null'], { user: SERVICE_ACCOUNT });
    expect(blocker.code, blocker.stderr).toBe(0);
    const blockerStart = Date.now();
    try {
      const page = await student('ben');
      await startWith(page, 'small');
      await page.waitForURL(/spawn-pending/);
      const msg = page.locator('#progress-message');
      // Slurm gives a pending job its reason at its next scheduling pass (until then "None", which the page leaves out)
      const withReason = /(next in line|\d+ jobs? ahead of yours), (waiting for free resources \(Resources\)|other jobs have priority \(Priority\))\./;
      await expect.poll(() => msg.innerText(), { timeout: 60_000 }).toMatch(/at the latest/);
      await expect.poll(() => msg.innerText(), { timeout: 60_000 }).toMatch(withReason);
      const first = await visibleText(page, '#progress-message');
      expect(first).toMatch(/^Waiting in the queue for \d+ (s|min)/);
      expect(first).toMatch(withReason);
      // the scheduler's worst case: when the blocker reaches its 10 min limit, in the browser's zone
      const at = /start at (\d\d:\d\d) your time at the latest \(its worst case: it often starts earlier\)\./.exec(first);
      expect(at, first).not.toBeNull();
      expect(minutesAround(blockerStart + 10 * 60_000, 2)).toContain(at![1]);
      expect(first).toContain('You may close this page: the job keeps its place, and your server opens from the Home page once it runs.');
      expect(first).toMatch(/If it has not started by \d\d:\d\d your time, the start is given up and the job withdrawn\./);
      // it stays alive: the time waited moves on
      await expect.poll(() => visibleText(page, '#progress-message'), { timeout: 15_000 }).not.toBe(first);
      expect(await page.locator('#progress-bar').getAttribute('aria-valuenow')).not.toBe('0');
      await tb.screenshot(page, '04-queued');

      const [sessionPage] = await Promise.all([page.context().waitForEvent('page'), page.click('text=Leave the queue (cancel this start)')]);
      await sessionPage.waitForURL(new RegExp(`/services/${SERVICE_NAME}/sessions/s-`));
      const card = await visibleText(sessionPage, '.card');
      expect(card).toMatch(/^Waiting in the queue for \d+ (s|min)/);
      expect(card).toMatch(/at \d\d:\d\d at the latest/);
      await tb.screenshot(sessionPage, '05-session-page');
      await sessionPage.click('button:has-text("Cancel this start")');
      await expect.poll(() => visibleText(sessionPage, 'main'), { timeout: 30_000 }).toMatch(/The start was cancelled by you: job \d+ was withdrawn from the queue and nothing keeps running\./);
      await tb.screenshot(sessionPage, '06-session-cancelled');

      // the hub's progress page ends with the same words, once
      await expect.poll(() => visibleText(page, '#progress-message'), { timeout: 30_000 }).toMatch(/^The start was cancelled by you: job \d+ was withdrawn from the queue/);
      await tb.screenshot(page, '07-progress-cancelled');
      expect(await jobsOf('ben')).toEqual([]);
    } finally {
      await stack.slurm.run(['scancel', blocker.stdout.trim()], { user: SERVICE_ACCOUNT });
    }
  });

  it('a choice whose partition does not exist is refused at once with its reason, not "HTTP 500"', async () => {
    const page = await student('cat');
    await page.goto(`${stack.hub.url}/hub/spawn`);
    // a form loaded before the partition vanished (or edited): the choice is still sent
    await page.evaluate("(function (g) { g.disabled = false; g.checked = true; })(document.querySelector('input[value=\"gpu\"]'))");
    await page.click('input[type="submit"]');
    const error = await visibleText(page, '.spawn-error-msg');
    expect(error).toBe('Error: "GPU (1 GPU)" cannot start now: the cluster has no partition "gpu". Pick another choice, and tell support if you need this one.');
    expect(await page.content()).not.toMatch(/HTTP 500|Internal Server Error|Unhandled error/);
    expect(await page.locator('.hpcb-choice').count()).toBe(4); // the form stays
    await tb.screenshot(page, '08-refused-partition');
  });

  it('a choice the scheduler refuses at submit shows the scheduler\'s reason in plain words, then its own words', async () => {
    const page = await student('dan');
    await startWith(page, 'huge');
    const failure = page.locator('.spawn-error-msg, #progress-message .hpcb-failure');
    await failure.first().waitFor({ timeout: 60_000 });
    const text = (await failure.first().innerText()).replace(/\s+/g, ' ');
    expect(text).toMatch(/The cluster refused to start "Huge \(64 CPUs\)": it asks for more CPUs than its partition allows\. This is a setup problem of that choice, not yours: pick another choice and tell support \(reference: session \d+\)\./);
    expect(await page.content()).toMatch(/More processors requested than permitted/); // the scheduler's own words, as details
    expect(await page.content()).not.toMatch(/HTTP 500|Internal Server Error|Unhandled error/);
    await tb.screenshot(page, '09-refused-by-scheduler');
  });

  it('a job that dies while starting shows one plain sentence first, the details once', async () => {
    const page = await student('broken');
    await startWith(page, 'small');
    const SENTENCE =
      'Your server stopped while it was starting: the job stopped with an error (most likely a problem of the software environment on the cluster, not of your files); try again, and if it fails again send support the reference (reference: job ';
    // A job that dies within the hub's first wait (the job launcher starts the server at
    // once) is shown on the form, as JupyterHub shows any early failure; a later one on the
    // progress page, with the details folded.
    const failure = page.locator('.spawn-error-msg, #progress-message .hpcb-sentence');
    await failure.first().waitFor({ timeout: 60_000 });
    if (await page.locator('.spawn-error-msg').count()) {
      const text = (await visibleText(page, '.spawn-error-msg')).replace(/\s+/g, ' ');
      expect(text.startsWith(`Error: ${SENTENCE}`), text).toBe(true);
      expect(text.match(/ModuleNotFoundError: No module named notebook/g)).toHaveLength(1);
      expect(text).toMatch(/exit code 3/);
      expect(await page.content()).not.toMatch(/HTTP 500|Internal Server Error|Unhandled error/);
      await tb.screenshot(page, '10-died-while-starting');
      return;
    }
    expect((await failure.first().innerText()).trim()).toMatch(new RegExp(`^${SENTENCE.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\d+\\)\\.$`));
    expect(await page.locator('text=Your server is starting up').isVisible()).toBe(false);
    await page.locator('#progress-message details summary').click();
    const body = (await page.evaluate('document.body.innerText')) as string;
    expect(body.match(/ModuleNotFoundError: No module named notebook/g)).toHaveLength(1);
    expect(body).toMatch(/exit code 3/);
    expect(body.indexOf('Your server stopped while it was starting')).toBeLessThan(body.indexOf('ModuleNotFoundError'));
    await tb.screenshot(page, '10-died-while-starting');
  });

  it('with the cluster service down the form says the choices could not be loaded and the start says "retrying", then goes through', async () => {
    await stack.bridge.kill('SIGTERM');
    const page = await student('eve');
    await page.goto(`${stack.hub.url}/hub/spawn`);
    expect(await visibleText(page, '.hpcb-notice')).toMatch(/^The choices of resources could not be loaded: the cluster service does not answer right now\./);
    expect(await page.content()).not.toMatch(/HPC bridge/i);
    await tb.screenshot(page, '11-form-service-down');
    await page.click('input[type="submit"]');
    await page.waitForURL(/spawn-pending/);
    await expect.poll(() => visibleText(page, '#progress-message'), { timeout: 30_000 }).toMatch(/^The cluster service does not answer right now; retrying for another \d+ s\. Nothing has been submitted yet\.$/);
    await tb.screenshot(page, '12-retrying');
    await stack.restartBridge();
    await page.waitForURL(/\/user\/eve\//, { timeout: 90_000 });
    await stack.hub.stopServer('eve');
  });
});

describe('what an admin sees (the admin page of the hub service)', () => {
  const shots = outputDir('admin-ui');
  const shot = (page: Page, name: string) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  const adminUrl = () => `${stack.hub.url}/services/${SERVICE_NAME}/admin/`;

  async function loggedIn(user: string): Promise<Page> {
    const ctx = await tb.context({ timezoneId: TZ });
    contexts.push(ctx);
    return loginToHub(ctx, stack.hub.url, user);
  }

  /** The live-sessions row of `user` (one live session each here). */
  const rowOf = (page: Page, user: string) => page.locator('#live-sessions tr', { has: page.locator(`td:text-is("${user}")`) });

  it('a JupyterHub admin sees every live session and the recent failure, stops one after confirming, and sees it gone; the hub and Slurm agree', async () => {
    // sessions started by this test: two servers that run, one whose environment is broken
    // (the broken one may fail before the hub answers the POST: then the hub says 500 with the student's sentence)
    const broken = stack.hub.startServer('brokenadm', { timeoutMs: 90_000 }).catch((err: Error) => ({ error: err.message }));
    const [fay, gus, failed] = await Promise.all([stack.hub.startServer('fay', { timeoutMs: 90_000 }), stack.hub.startServer('gus', { timeoutMs: 90_000 }), broken]);
    try {
      expect([fay.ready, gus.ready]).toEqual([true, true]);
      expect('error' in failed ? failed.error : String(failed.ready)).toMatch(/^(false|start server of brokenadm: 500 .*Your server stopped while it was starting)/s);
      const jobs = await stack.slurm.squeue();
      const jobOf = (user: string) => jobs.find((j) => j.name === `jupyterhub-${user}`);
      expect(jobOf('fay') && jobOf('gus')).toBeTruthy();

      const page = await loggedIn(HUB_ADMIN);
      const res = await page.goto(adminUrl());
      expect(res?.status()).toBe(200);
      expect(await visibleText(page, 'h1')).toBe('Notebook sessions on the cluster');
      for (const user of ['fay', 'gus']) {
        const cells = await rowOf(page, user).locator('td').allInnerTexts();
        // #, user, choice, state, job, node, queue position, age, wall time left, tunnel, stop
        expect([...cells.slice(1, 5), cells[6]]).toEqual([user, 'Small', 'ready', jobOf(user)!.id, '—']);
        expect(cells[5]).toMatch(/^[\w.-]+$/); // the node Slurm runs it on
        expect(cells[7]).toMatch(/^\d+ (s|min)/);
        expect(cells[8]).toMatch(/^(29|30) min \(until \d\d:\d\d\)$/); // the 30 min limit of "Small", in the browser's time
        expect(cells[9]).toBe('none (direct connection)');
      }
      // the broken environment: its reason, the student's sentence, the output tail behind "Details"
      const failure = page.locator('#failures tr', { has: page.locator('td:text-is("brokenadm")') }).first();
      expect(await failure.innerText()).toMatch(/the job ended with an error before the server was ready \(scheduler: NonZeroExitCode\)\s+Your server stopped while it was starting/);
      await failure.locator('summary').click();
      expect(await failure.locator('pre').innerText()).toMatch(/ModuleNotFoundError: No module named notebook/);
      expect(await page.locator('#usage').count()).toBe(1);
      // no CDN: every resource the page loaded came from the hub's own address
      const foreign = (await page.evaluate('performance.getEntriesByType("resource").map(function (e) { return e.name; })') as string[]).filter((u) => !u.startsWith(stack.hub.url));
      expect(foreign).toEqual([]);
      await shot(page, '01-admin-page');

      // stop gus: the button asks first (a page of its own: works without JavaScript)
      await rowOf(page, 'gus').locator('button:has-text("Stop…")').click();
      await page.waitForURL((u) => /\/admin\/sessions\/s-[a-z2-7]+\/stop$/.test(u.pathname));
      expect(await visibleText(page, 'h1')).toMatch(/^Stop session \d+ of gus\?$/);
      expect(await visibleText(page, '.card')).toContain(`job ${jobOf('gus')!.id} is cancelled on the cluster`);
      await shot(page, '02-confirm-stop');
      await page.click('button:has-text("Stop session")');
      await page.waitForURL(/\/admin\/\?stopped=s-/);
      expect(await visibleText(page, '#notice')).toMatch(/^(Stop requested: Session \d+ of gus \(job \d+\) is being stopped\.|Session \d+ of gus \(job \d+\) has ended: stopped on this page\.)/);
      await expect
        .poll(async () => {
          await page.reload();
          return rowOf(page, 'gus').count();
        }, { timeout: 60_000, interval: 1000 })
        .toBe(0);
      expect(await visibleText(page, '#notice')).toMatch(/^Session \d+ of gus \(job \d+\) has ended: stopped on this page\.$/);
      expect(await rowOf(page, 'fay').count()).toBe(1);
      await shot(page, '03-stopped');
      // the same path as a stop from the hub: the job is gone from Slurm and the hub sees the server end
      await expect.poll(async () => (await stack.slurm.squeue()).filter((j) => j.name === 'jupyterhub-gus'), { timeout: 30_000 }).toEqual([]);
      await expect.poll(async () => (await stack.hub.api('GET', '/users/gus')).json?.servers?.[''] ?? null, { timeout: 30_000 }).toBeNull();
    } finally {
      await Promise.all(['fay', 'gus', 'brokenadm'].map((u) => stack.hub.stopServer(u).catch(() => {})));
    }
  });

  it('a holder of the admin scope (a JupyterHub role, not an admin) gets the page; a student gets 403 with a plain sentence', async () => {
    const tutor = await loggedIn(SCOPE_ADMIN);
    expect((await tutor.goto(adminUrl()))?.status()).toBe(200);
    expect(await visibleText(tutor, 'h1')).toBe('Notebook sessions on the cluster');

    const student = await loggedIn('hal');
    expect((await student.goto(adminUrl()))?.status()).toBe(403);
    expect(await visibleText(student, 'main')).toContain("This page is for the hub's administrators. If you need it, ask them to give you access.");
    expect(await student.locator('#live-sessions').count()).toBe(0);
    await shot(student, '04-student-403');
    // a stop form posted by a student changes nothing either
    const r = await student.request.post(`${adminUrl()}sessions/s-${'a'.repeat(26)}/stop`, { form: { _csrf: 'x' }, maxRedirects: 0 });
    expect(r.status()).toBe(403);
  });
});
