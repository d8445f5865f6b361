import type { CallerView } from "../api";

/** The program the operating system showed behind a client (never what the client reported). */
export function ProgramLine({ caller, testId }: { caller: CallerView | null; testId?: string }) {
  return (
    <p className="grant-card__program" data-testid={testId}>
      {caller ? (
        <>
          <span className="label">Seen on this computer</span>
          {" · "}
          <code>{caller.exe ?? "executable not visible"}</code> (pid {caller.pid})
        </>
      ) : (
        <span className="label">Program not seen by Gatehouse</span>
      )}
    </p>
  );
}
