using System.Text;

namespace Cinnabar.Cli.Tool;

/// <summary>
/// redis-cli --cluster's output conventions: ">>> " steps, "[OK]", "[WARNING]"/"[ERR]" findings, "*** " notes.
/// Colours only when stdout is a terminal (redis-cli colours always; a log file should not get escape codes).
/// </summary>
public static class ToolOutput
{
    static readonly bool Color = !Console.IsOutputRedirected;
    public static readonly List<string> Errors = new();   // every [ERR]/[WARNING] finding, in order

    static void Write(string code, string text)
    {
        if (Color) Console.Write($"\u001b[{code}m{text}\u001b[0m\n");
        else Console.Write(text + "\n");
    }

    public static void Info(string text) => Write("29;1", text);
    public static void Ok(string text) => Write("32;1", text);
    public static void Warn(string text) => Write("33;1", text);
    public static void Err(string text) => Write("31;1", text);
    public static void Line(string text) => Console.Write(text + "\n");

    /// <summary>A finding: printed in red and remembered (the exit code and the summary use them).</summary>
    public static void Finding(string text)
    {
        Errors.Add(text);
        Err(text);
    }

    /// <summary>"(type 'yes' to accept): " — true with --cluster-yes, else only when the operator types yes.</summary>
    public static bool Confirm(string question, bool yes)
    {
        Console.Write(question + " (type 'yes' to accept): ");
        if (yes)
        {
            Console.Write("yes (--cluster-yes)\n");
            return true;
        }
        string answer = Console.ReadLine();
        return answer != null && answer.Trim() == "yes";
    }

    public static string Ask(string question)
    {
        Console.Write(question);
        return Console.ReadLine()?.Trim();
    }

    /// <summary>Arguments as a command line: quoted when empty or holding spaces/quotes/control bytes.</summary>
    public static string Quote(IEnumerable<string> args) => string.Join(' ', args.Select(a =>
    {
        if (a.Length > 0 && a.All(c => c > ' ' && c < 127 && c != '"' && c != '\'' && c != '\\')) return a;
        var sb = new StringBuilder("\"");
        foreach (char c in a)
        {
            if (c is '"' or '\\') sb.Append('\\').Append(c);
            else if (c == '\n') sb.Append("\\n");
            else if (c == '\r') sb.Append("\\r");
            else if (c < ' ' || c >= 127) sb.Append("\\x").Append(((int)c).ToString("x2"));
            else sb.Append(c);
        }
        return sb.Append('"').ToString();
    }));
}

/// <summary>
/// Progress of a reshard/rebalance: a bar redrawn on stderr when stderr is a terminal, otherwise a plain line on
/// stdout per slot moved (what redis-cli prints) and a summary every tenth of the work.
/// </summary>
public sealed class Progress
{
    readonly int totalSlots;
    readonly bool bar = !Console.IsErrorRedirected;
    int doneSlots, lastTenth = -1;
    long keys;
    readonly DateTime started = DateTime.UtcNow;

    public Progress(int totalSlots) => this.totalSlots = Math.Max(1, totalSlots);

    public bool IsBar => bar;

    public void SlotStarted(int slot, string from, string to)
    {
        if (bar) Draw($"slot {slot} {from} -> {to}");
        else Console.Write($"Moving slot {slot} from {from} to {to}: ");
    }

    public void KeysMoved(int n)
    {
        keys += n;
        if (bar) Draw(null);
        else Console.Write(".");
    }

    public void SlotDone()
    {
        doneSlots++;
        if (bar) Draw(null);
        else
        {
            Console.Write("\n");
            int tenth = doneSlots * 10 / totalSlots;
            if (tenth != lastTenth)
            {
                lastTenth = tenth;
                Console.Write($"Progress: {doneSlots}/{totalSlots} slots, {keys} keys moved, {(DateTime.UtcNow - started).TotalSeconds:F1}s\n");
            }
        }
    }

    string lastLabel = "";

    void Draw(string label)
    {
        if (label != null) lastLabel = label;
        const int width = 30;
        int filled = (int)((long)doneSlots * width / totalSlots);
        string line = $"\r[{new string('#', filled)}{new string(' ', width - filled)}] {doneSlots}/{totalSlots} slots, {keys} keys  {lastLabel}";
        Console.Error.Write(line.PadRight(100));
    }

    public void Finish()
    {
        if (bar) { Draw(""); Console.Error.Write("\n"); }
    }

    public long Keys => keys;
}
