/**
 * The engines of every scheme, as the coordinator and the checkers use them: the FROST engines,
 * and the `ecdsa` engine without an engine instance (its coordinator roles and verifier need
 * none; a party builds its own with its instance, src/party/dkls23-instance.ts).
 */
import { ecdsaEngine } from './ecdsa.ts';
import type { Scheme, SignatureEngine } from './engine.ts';
import { engines as frostEngines } from './frost.ts';

/** Every scheme's engine, for coordinator roles and verification (no party roles for ecdsa). */
export const coordinatorEngines: Record<Scheme, SignatureEngine> = {
  ...frostEngines,
  ecdsa: ecdsaEngine(),
};
