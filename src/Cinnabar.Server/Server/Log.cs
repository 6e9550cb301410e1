using System.Text;

namespace Cinnabar.Server;

public enum LogLevel { Debug = 0, Verbose = 1, Notice = 2, Warning = 3, Nothing = 4 }

/// <summary>Redis's log line format: "pid:role dd Mon yyyy hh:mm:ss.mmm &lt;level char&gt; message".</summary>
public sealed class Log
{
    public LogLevel Level = LogLevel.Notice;
    public char Role = 'M';
    Stream output = Console.OpenStandardOutput();
    string path = "";
    readonly int pid = Environment.ProcessId;
    static readonly string[] Months = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

    /// <summary>Switches to a log file ("" = standard output). Returns an error text or null.</summary>
    public string SetFile(string file)
    {
        if (file == path) return null;
        try
        {
            Stream s = file == "" ? Console.OpenStandardOutput() : new FileStream(file, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
            if (path != "") output.Dispose();
            output = s;
            path = file;
            return null;
        }
        catch (Exception e)
        {
            return e.Message;
        }
    }

    public void Debug(string m) => Write(LogLevel.Debug, m);
    public void Verbose(string m) => Write(LogLevel.Verbose, m);
    public void Notice(string m) => Write(LogLevel.Notice, m);
    public void Warning(string m) => Write(LogLevel.Warning, m);

    public void Write(LogLevel level, string message)
    {
        if (level < Level) return;
        var now = DateTime.Now;
        char mark = level switch { LogLevel.Debug => '.', LogLevel.Verbose => '-', LogLevel.Notice => '*', _ => '#' };
        string line = $"{pid}:{Role} {now.Day:00} {Months[now.Month - 1]} {now.Year} {now:HH:mm:ss.fff} {mark} {message}\n";
        WriteRaw(line);
    }

    /// <summary>Writes text as is (the ASCII-art banner), without the line prefix.</summary>
    public void WriteRaw(string text)
    {
        var bytes = Encoding.Latin1.GetBytes(text);
        lock (this)   // the cluster bus thread logs too
        {
            try
            {
                output.Write(bytes);
                output.Flush();
            }
            catch (IOException)
            {
                // A closed stdout must not bring the server down.
            }
        }
    }
}
