/**
 * `npm run example:policy-engine`: the signing-time policy engine end to end, on real processes.
 * A coordinator and three parties (mobile, backend, guardian) all load
 * `examples/policies/rules-retail.yaml`; a 2-of-3 BIP340 wallet is bound to tier `retail-2of3`.
 * Each step prints what it expects and what happened; the exit code is 0 only if all held.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { fileURLToPath } from 'node:url';
import { LocalCluster } from '../src/cli/local-cluster.ts';
import { canonicalApprovalMessage, type ApprovalSubject } from '../src/policy/rules/index.ts';

const policyPath = fileURLToPath(new URL('./policies/rules-retail.yaml', import.meta.url));
const parties = ['mobile', 'backend', 'guardian'];
const allowed = '0x1111111111111111111111111111111111111111';
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Example-only approver key: sha256("quorate example approver NAME") (see the policy file). */
const approverSecret = (name: string) => sha256(utf8ToBytes(`quorate example approver ${name}`));

let failures = 0;
function step(name: string, ok: boolean, detail: string): void {
  if (!ok) failures += 1;
  process.stdout.write(`${ok ? 'PASS' : 'FAIL'}  ${name}\n      ${detail}\n`);
}

type Json = Record<string, unknown>;
const errorOf = (json: Json) =>
  (json['error'] ?? {}) as { code?: string; message?: string; detail?: Json };

async function main(): Promise<number> {
  const cluster = new LocalCluster({
    coordinatorArgs: ['--policy', policyPath],
    partyArgs: ['--policy', policyPath],
  });
  let n = 0;
  try {
    await cluster.startWithParties(parties);
    const w = await cluster.request('POST', '/v1/wallets', {
      scheme: 'bip340',
      threshold: 2,
      parties,
      policy: 'retail-2of3',
    });
    if (w.status !== 201) throw new Error(`wallet: ${JSON.stringify(w.json)}`);
    const walletId = w.json['walletId'] as string;
    process.stdout.write(`wallet ${walletId}: 2-of-3 bip340 governed by tier retail-2of3\n\n`);
    const transfer = (amount: string, destination = allowed) =>
      cluster.request('POST', `/v1/wallets/${walletId}/signatures`, {
        message: bytesToHex(utf8ToBytes(`pay ${amount} USDC to ${destination} #${n}`)),
        intentKey: `transfer-${n++}`,
        context: { amount, asset: 'USDC', destination },
      });
    const session = async (id: string) => (await cluster.request('GET', `/v1/sessions/${id}`)).json;
    const approve = async (id: string, approver: string) =>
      cluster.request('POST', `/v1/sessions/${id}/approvals`, {
        approverId: approver,
        signature: signApprovalFor(await session(id), approver),
      });
    const waitSigned = async (id: string) => {
      for (let i = 0; i < 300; i++) {
        const s = await session(id);
        if (s['status'] === 'signed' || s['status'] === 'failed') return s;
        await sleep(50);
      }
      return session(id);
    };

    // 1. A small transfer: any 2 of 3.
    const small = await transfer('100');
    step(
      '1. a small transfer (100 USDC) is signed by any 2 of 3',
      small.status === 200 && (small.json['signers'] as string[]).length === 2,
      `HTTP ${small.status}, signers ${JSON.stringify(small.json['signers'])}`,
    );

    // 2. A large transfer: guardian required plus one approval.
    const large = await transfer('5000');
    const largeId = large.json['sessionId'] as string;
    step(
      '2a. a large transfer (5 000 USDC) waits for an approval',
      large.status === 202 && large.json['status'] === 'pending',
      `HTTP ${large.status}, pendingReason: ${String(large.json['pendingReason'])}`,
    );
    const approved = await approve(largeId, 'risk-officer');
    const largeDone = await waitSigned(largeId);
    const signers = (largeDone['signers'] as string[] | undefined) ?? [];
    step(
      '2b. after one approval it is signed, with the guardian among the signers',
      approved.status === 200 && largeDone['status'] === 'signed' && signers.includes('guardian'),
      `approval HTTP ${approved.status}; status ${String(largeDone['status'])}, signers ${JSON.stringify(signers)}`,
    );

    // 3. Velocity: small transfers are capped at 2 500 USDC per 24 h (5 100 already signed).
    const tooMuch = await transfer('100');
    const e3 = errorOf(tooMuch.json);
    step(
      '3. a velocity limit trips with QUORATE_E_POLICY_DENIED',
      tooMuch.status === 403 &&
        e3.code === 'QUORATE_E_POLICY_DENIED' &&
        e3.detail?.['cause'] === 'velocity',
      `HTTP ${tooMuch.status} ${String(e3.code)}: ${String(e3.message)}`,
    );

    // 4. Destination outside the allowlist.
    const bad = await transfer('50', '0x9999999999999999999999999999999999999999');
    const e4 = errorOf(bad.json);
    step(
      '4. a destination outside the allowlist is denied',
      bad.status === 403 &&
        e4.code === 'QUORATE_E_POLICY_DENIED' &&
        e4.detail?.['ruleId'] === 'destination-allowlist',
      `HTTP ${bad.status} ${String(e4.code)} rule ${String(e4.detail?.['ruleId'])}: ${String(e4.message)}`,
    );

    // 5. Approved inside the window, re-checked at execution: three large transfers of 7 000
    //    wait for approval; the daily cap of 20 000 lets two execute, the third is denied when
    //    its approval arrives.
    const pending = [await transfer('7000'), await transfer('7000'), await transfer('7000')].map(
      (r) => r.json['sessionId'] as string,
    );
    const first = await approve(pending[0] as string, 'compliance');
    const firstDone = await waitSigned(pending[0] as string);
    const second = await approve(pending[1] as string, 'risk-officer');
    const secondDone = await waitSigned(pending[1] as string);
    const third = await approve(pending[2] as string, 'compliance');
    const thirdError = (third.json['error'] ?? {}) as {
      code?: string;
      detail?: Json;
      message?: string;
    };
    step(
      '5a. approvals inside the window execute while the rules still allow them',
      first.status === 200 &&
        second.status === 200 &&
        firstDone['status'] === 'signed' &&
        secondDone['status'] === 'signed',
      `statuses ${String(firstDone['status'])}, ${String(secondDone['status'])}`,
    );
    step(
      '5b. an approval arriving later is re-checked at execution and denied (daily cap)',
      third.status === 200 &&
        third.json['status'] === 'failed' &&
        thirdError.code === 'QUORATE_E_POLICY_DENIED' &&
        thirdError.detail?.['when'] === 'rules re-checked at execution',
      `status ${String(third.json['status'])}, ${String(thirdError.code)}: ${String(thirdError.message)}`,
    );
  } finally {
    await cluster.stop();
  }
  process.stdout.write(
    failures === 0
      ? '\nevery step behaved as stated\n'
      : `\n${failures} step(s) did not behave as stated\n`,
  );
  return failures === 0 ? 0 : 1;
}

/** Signs the approval subject the session shows, as the example approver `name`. */
function signApprovalFor(s: Json, name: string): string {
  const subject = (s['policy'] as { approvalSubject: ApprovalSubject }).approvalSubject;
  return bytesToHex(ed25519.sign(canonicalApprovalMessage(subject), approverSecret(name)));
}

process.exitCode = await main();
