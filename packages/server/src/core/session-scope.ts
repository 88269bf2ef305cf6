/**
 * Which sessions a caller reaches. `SessionManager` methods take one and
 * treat a session outside it exactly as a missing one (`SESSION_NOT_FOUND`,
 * left out of listings). No scope (`undefined`) reaches every session.
 */
export interface SessionScope {
  /**
   * Only sessions of this tenant. Absent: sessions of every tenant and those
   * of none.
   */
  readonly tenantId?: string;
  /** Only these sessions (within `tenantId` when both are set). Absent: any. */
  readonly sessionIds?: readonly string[];
}

/** True when the session `sessionId` of tenant `tenantId` (absent: of none) lies in `scope`. */
export function inScope(
  session: { readonly sessionId: string; readonly tenantId?: string | undefined },
  scope: SessionScope | undefined,
): boolean {
  if (!scope) return true;
  if (scope.tenantId !== undefined && session.tenantId !== scope.tenantId) return false;
  return scope.sessionIds === undefined || scope.sessionIds.includes(session.sessionId);
}
